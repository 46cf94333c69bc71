// `token-lens quantize`: writes a quantized variant of a model folder's onnx/model.onnx under Optimum's
// name, beside it or in another folder (with the folder's JSON files, so that it loads on its own).
// Every node that is not a weight MatMul is kept as it is, so the attention outputs and the scoring head of
// a Token Lens model survive, and the variant loads without graph surgery.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel, encodeModel } from './builder';
import { writeFileAtomic } from '../fsAtomic';
import { externalDataRefs } from '../runtime/externalData';
import { quantizeInt8 } from './quantizeInt8';
import { quantizeInt4 } from './quantizeInt4';
import { weightsToFloat16 } from './weightsFloat16';

export type QuantizeTarget = 'q8' | 'q4' | 'fp16';
export const QUANTIZE_TARGETS: readonly QuantizeTarget[] = ['q8', 'q4', 'fp16'];

/** Optimum's (and transformers.js's) file name for each variant. */
export const VARIANT_FILE: Record<QuantizeTarget, string> = {
  q8: 'model_quantized.onnx',
  q4: 'model_q4.onnx',
  fp16: 'model_fp16.onnx',
};

const FOLDER_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

export class QuantizeError extends Error {}

export interface QuantizeResult {
  file: string;
  /** Weight tensors rewritten (MatMuls for q8 / q4, initializers for fp16). */
  rewritten: number;
  bytesBefore: number;
  bytesAfter: number;
}

export async function quantizeModelFolder(opts: { model: string; to: QuantizeTarget; out?: string }): Promise<QuantizeResult> {
  const source = path.join(opts.model, 'onnx', 'model.onnx');
  if (!fs.existsSync(source)) {
    throw new QuantizeError(`${opts.model} has no onnx/model.onnx to quantize (a float32 model folder is needed).`);
  }
  const bytes = fs.readFileSync(source);
  const model = decodeModel(bytes);
  if (externalDataRefs(model).length) {
    throw new QuantizeError(`${source} keeps its weights in external data files; quantizing those is not supported.`);
  }
  const rewritten = opts.to === 'q8' ? quantizeInt8(model) : opts.to === 'q4' ? quantizeInt4(model) : weightsToFloat16(model);
  if (!rewritten) throw new QuantizeError(`${source} has no float32 weight matrices to quantize.`);
  const outDir = opts.out ?? opts.model;
  fs.mkdirSync(path.join(outDir, 'onnx'), { recursive: true });
  if (path.resolve(outDir) !== path.resolve(opts.model)) {
    for (const f of FOLDER_FILES) {
      if (fs.existsSync(path.join(opts.model, f))) fs.copyFileSync(path.join(opts.model, f), path.join(outDir, f));
    }
  }
  const file = path.join(outDir, 'onnx', VARIANT_FILE[opts.to]);
  const encoded = encodeModel(model);
  await writeFileAtomic(file, encoded);
  return { file, rewritten, bytesBefore: bytes.length, bytesAfter: encoded.length };
}
