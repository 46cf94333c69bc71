// Which ONNX file of a model folder holds the decoder. Current transformers.js exports name it
// onnx/model.onnx; Optimum's and older transformers.js exports may ship only a merged decoder
// (onnx/decoder_model_merged.onnx: one `If` on use_cache_branch), and some repositories only a float16
// file. The first file present, in this order, is the one used: float32 before float16, because analysis
// compares probabilities and float16 rounds them.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface OnnxFile {
  /** Path inside the model folder (or Hub repository). */
  file: string;
  /** What transformers.js needs to fetch that file: its base name and the dtype that picks the suffix. */
  modelFileName: string;
  dtype: 'fp32' | 'fp16';
}

export const ONNX_FILES: readonly OnnxFile[] = [
  { file: 'onnx/model.onnx', modelFileName: 'model', dtype: 'fp32' },
  { file: 'onnx/decoder_model_merged.onnx', modelFileName: 'decoder_model_merged', dtype: 'fp32' },
  { file: 'onnx/model_fp16.onnx', modelFileName: 'model', dtype: 'fp16' },
  { file: 'onnx/decoder_model_merged_fp16.onnx', modelFileName: 'decoder_model_merged', dtype: 'fp16' },
];

export const ONNX_FILE_LIST = ONNX_FILES.map((f) => f.file).join(' or ');

/** The decoder file a folder has, or undefined. */
export function findOnnxFile(dir: string): OnnxFile | undefined {
  return ONNX_FILES.find((f) => fs.existsSync(path.join(dir, f.file)));
}
