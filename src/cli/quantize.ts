// token-lens quantize: writes a q8, q4 or fp16 variant of a model folder, under Optimum's file names.
import { QUANTIZE_TARGETS, QuantizeError, type QuantizeTarget, quantizeModelFolder } from '../core/onnx/quantizeFolder';
import { UsageError, parse } from './args';

const USAGE = `usage: token-lens quantize --model DIR --to q8|q4|fp16 [--out DIR]
  q8:   8-bit weights, activations quantized at run time (MatMulInteger)  -> onnx/model_quantized.onnx
  q4:   4-bit weights in blocks of 32, each with its own scale (MatMulNBits) -> onnx/model_q4.onnx
  fp16: float16 weights, float32 arithmetic                                -> onnx/model_fp16.onnx
  Written beside onnx/model.onnx, or into --out with the folder's JSON files. Load one with --dtype
  (explain --model DIR --dtype q8) or as DIR@q8.`;

export async function runQuantize(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { model: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } }, USAGE);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  if (!values.model) throw new UsageError(`--model is required\n\n${USAGE}`);
  if (!values.to || !(QUANTIZE_TARGETS as readonly string[]).includes(values.to)) {
    throw new UsageError(`--to must be one of ${QUANTIZE_TARGETS.join(', ')}${values.to ? `, got "${values.to}"` : ''}\n\n${USAGE}`);
  }
  try {
    const r = await quantizeModelFolder({ model: values.model, to: values.to as QuantizeTarget, out: values.out });
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(2)} MB`;
    process.stdout.write(`wrote ${r.file} (${r.rewritten} weight tensors; ${mb(r.bytesBefore)} -> ${mb(r.bytesAfter)})\n`);
    return 0;
  } catch (e) {
    if (e instanceof QuantizeError) throw new UsageError(e.message);
    throw e;
  }
}
