// fp16: weights stored as float16 and cast back to float32 as the session loads them, so the file is half
// the size and every weight is rounded to 11 significant bits (a relative error of at most 2^−11), while the
// arithmetic, the inputs and the outputs (logits, attention) stay float32. Tiny tensors (RoPE frequencies,
// scalars) stay float32: they save nothing and some (mask constants) do not fit float16's range.
import { onnx } from 'onnx-proto';
import { floatToHalf } from '../float16';
import { FLOAT, floatsOf } from './builder';
import { allGraphs, intAttr, node } from './weightMatMuls';

const SMALLEST = 16;

/** Stores the model's float weights as float16 in place; returns how many tensors. */
export function weightsToFloat16(model: onnx.IModelProto): number {
  let count = 0;
  for (const graph of allGraphs(model.graph!)) {
    const casts: onnx.INodeProto[] = [];
    for (const t of graph.initializer ?? []) {
      const size = (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
      if (t.dataType !== FLOAT || size < SMALLEST || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const name = t.name!;
      const half = Uint16Array.from(floatsOf(t), floatToHalf);
      t.name = `${name}_fp16`;
      t.dataType = onnx.TensorProto.DataType.FLOAT16;
      t.rawData = new Uint8Array(half.buffer);
      t.floatData = [];
      casts.push(node('Cast', [t.name], [name], [intAttr('to', FLOAT)]));
      count++;
    }
    // First in the graph: they read only initializers, and every other node may read what they write.
    graph.node = [...casts, ...(graph.node ?? [])];
  }
  return count;
}
