// q8: dynamic int8 quantization, as onnxruntime's quantize_dynamic writes it (Optimum's model_quantized.onnx).
// Each weight W [K, N] is stored once as 8-bit integers with one scale for the whole tensor:
//   int8 (symmetric):   s = max|W| / 127,             q = round(W / s),        zero point 0
//   uint8 (asymmetric): s = (max(W,0) − min(W,0)) / 255, q = round(W / s) + z,  z = round(−min(W,0) / s)
// The activations are quantized at run time, per call, by DynamicQuantizeLinear (uint8, asymmetric), and
//   y = MatMulInteger(x_q, W_q, x_zero, W_zero) · (x_scale · s)
// so the rounding error is about half a step of each: s/2 in the weights, x_scale/2 in the activations.
// Attention's activation-by-activation MatMuls stay float unless `activations` is set (then both sides go
// through DynamicQuantizeLinear, as quantize_dynamic does to every MatMul): the attention probabilities a
// Softmax feeds them are the same either way, and graph surgery finds them through DynamicQuantizeLinear.
import { onnx } from 'onnx-proto';
import { FLOAT } from './builder';
import { allGraphs, dropUnread, intAttr, node, replaceNodes, roundEven, storedWeight } from './weightMatMuls';

export interface Int8Options {
  weightType?: 'int8' | 'uint8';
  activations?: boolean;
}

interface QuantizedWeight { q: string; scale: string; zero: string }

/** Rewrites the model's MatMuls in place; returns how many were quantized. */
export function quantizeInt8(model: onnx.IModelProto, opts: Int8Options = {}): number {
  const weightType = opts.weightType ?? 'int8';
  let count = 0;
  for (const graph of allGraphs(model.graph!)) {
    const done = new Map<string, QuantizedWeight>();
    const weightOf = (name: string): QuantizedWeight | undefined => {
      if (done.has(name)) return done.get(name);
      const w = storedWeight(graph, name);
      if (!w) return undefined;
      const { q, scale, zero } = weightType === 'int8' ? symmetricInt8(w.values) : asymmetricUint8(w.values);
      const names = { q: `${name}_quantized`, scale: `${name}_scale`, zero: `${name}_zero_point` };
      const T = onnx.TensorProto.DataType;
      graph.initializer!.push(
        { name: names.q, dims: [w.K, w.N], dataType: weightType === 'int8' ? T.INT8 : T.UINT8, rawData: new Uint8Array(q.buffer) },
        { name: names.scale, dims: [], dataType: FLOAT, rawData: new Uint8Array(Float32Array.of(scale).buffer) },
        { name: names.zero, dims: [], dataType: weightType === 'int8' ? T.INT8 : T.UINT8, rawData: Uint8Array.of(zero & 0xff) },
      );
      done.set(name, names);
      return names;
    };
    count += replaceNodes(graph, (n) => {
      if (n.opType !== 'MatMul' || (n.domain ?? '') !== '') return undefined;
      const [a, b] = n.input!;
      const out = n.output![0];
      const weight = weightOf(b);
      if (!weight && !opts.activations) return undefined;
      const nodes: onnx.INodeProto[] = [];
      const dynamic = (x: string, tag: string): QuantizedWeight => {
        const names = { q: `${out}_${tag}_quantized`, scale: `${out}_${tag}_scale`, zero: `${out}_${tag}_zero_point` };
        nodes.push(node('DynamicQuantizeLinear', [x], [names.q, names.scale, names.zero]));
        return names;
      };
      const x = dynamic(a, 'a');
      const w = weight ?? dynamic(b, 'b');
      nodes.push(
        node('MatMulInteger', [x.q, w.q, x.zero, w.zero], [`${out}_int32`]),
        node('Cast', [`${out}_int32`], [`${out}_float`], [intAttr('to', FLOAT)]),
        node('Mul', [x.scale, w.scale], [`${out}_scale`]),
        node('Mul', [`${out}_float`, `${out}_scale`], [out]),
      );
      return nodes;
    });
    dropUnread(graph, done.keys());
  }
  return count;
}

/** int8 in [−127, 127], zero point 0: onnxruntime's symmetric range for int8 weights. */
export function symmetricInt8(values: Float32Array): { q: Int8Array; scale: number; zero: number } {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  const scale = max === 0 ? 1 : Math.fround(max / 127);
  const q = Int8Array.from(values, (v) => Math.max(-127, Math.min(127, roundEven(v / scale))));
  return { q, scale, zero: 0 };
}

/** uint8 in [0, 255] over [min(W, 0), max(W, 0)]: zero is always exactly representable. */
export function asymmetricUint8(values: Float32Array): { q: Uint8Array; scale: number; zero: number } {
  let lo = 0, hi = 0;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const scale = hi === lo ? 1 : Math.fround((hi - lo) / 255);
  const zero = Math.max(0, Math.min(255, roundEven(-lo / scale)));
  const q = Uint8Array.from(values, (v) => Math.max(0, Math.min(255, roundEven(v / scale) + zero)));
  return { q, scale, zero };
}
