// Which ONNX file of a model folder holds the decoder. Current transformers.js exports name it
// onnx/model.onnx; Optimum's and older transformers.js exports may ship only a merged decoder
// (onnx/decoder_model_merged.onnx: one `If` on use_cache_branch), and beside the float32 file most Hub
// repositories carry quantized variants with Optimum's suffixes:
//   _fp16 (float16), _quantized / _int8 / _uint8 (8-bit MatMulInteger), _q4 / _q4f16 (4-bit MatMulNBits),
//   _bnb4 (4-bit MatMulBnb4).
// A precision (`tokenLens.dtype`) picks among them; `auto` takes the first file present in the order below:
// float32 before the others, because analysis compares probabilities and every variant rounds them.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Precision = 'fp32' | 'fp16' | 'q8' | 'q4';
export type DtypeChoice = 'auto' | Precision;
export const DTYPE_CHOICES: readonly DtypeChoice[] = ['auto', 'fp32', 'fp16', 'q8', 'q4'];

export interface OnnxFile {
  /** Path inside the model folder (or Hub repository). */
  file: string;
  /** What transformers.js needs to fetch that file: its base name and the dtype that picks the suffix. */
  modelFileName: string;
  dtype: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';
  precision: Precision;
}

const SUFFIXES: readonly [OnnxFile['dtype'], string, Precision][] = [
  ['fp32', '', 'fp32'], ['fp16', '_fp16', 'fp16'],
  ['q8', '_quantized', 'q8'], ['int8', '_int8', 'q8'], ['uint8', '_uint8', 'q8'],
  ['q4', '_q4', 'q4'], ['q4f16', '_q4f16', 'q4'], ['bnb4', '_bnb4', 'q4'],
];

export const ONNX_FILES: readonly OnnxFile[] = SUFFIXES.flatMap(([dtype, suffix, precision]) =>
  ['model', 'decoder_model_merged'].map((modelFileName) =>
    ({ file: `onnx/${modelFileName}${suffix}.onnx`, modelFileName, dtype, precision })));

export const ONNX_FILE_LIST = ONNX_FILES.filter((f) => f.precision === 'fp32' || f.precision === 'fp16').map((f) => f.file).join(' or ') +
  ' (or a quantized variant: model_quantized, model_int8, model_uint8, model_q4, model_q4f16, model_bnb4)';

/** The files that `dtype` may pick, in order of preference. */
export function onnxFilesFor(dtype: DtypeChoice = 'auto'): OnnxFile[] {
  return ONNX_FILES.filter((f) => dtype === 'auto' || f.precision === dtype);
}

/** The decoder file a folder has for `dtype`, or undefined. */
export function findOnnxFile(dir: string, dtype: DtypeChoice = 'auto'): OnnxFile | undefined {
  return onnxFilesFor(dtype).find((f) => fs.existsSync(path.join(dir, f.file)));
}

/** The .onnx files a folder has under onnx/ (and at its top), for messages that say what was found. */
export function onnxFilesPresent(dir: string): string[] {
  const list = (sub: string) => {
    try {
      return fs.readdirSync(path.join(dir, sub)).filter((f) => f.endsWith('.onnx')).map((f) => (sub ? `${sub}/${f}` : f));
    } catch {
      return [];
    }
  };
  return [...list('onnx'), ...list('')].sort();
}

/** Why a folder has no decoder for `dtype`: what was looked for, and what is there. */
export function noDecoderMessage(label: string, dir: string, dtype: DtypeChoice = 'auto'): string {
  const found = onnxFilesPresent(dir);
  const wanted = dtype === 'auto' ? ONNX_FILE_LIST : onnxFilesFor(dtype).map((f) => f.file).join(' or ');
  return `${label} has no ${dtype === 'auto' ? '' : `${dtype} `}ONNX decoder: expected ${wanted}; ` +
    `found ${found.length ? found.join(', ') : 'no .onnx file'}.`;
}
