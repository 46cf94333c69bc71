// Writes an ONNX model to a file with each initializer's bytes taken straight from its weight array.
// Encoding the whole ModelProto first would hold a second copy of every weight (a 500 MB model would
// need 1 GB); here the encoded file never exists in memory, only one small header per tensor.
//
// Protobuf lets a message's fields come in any order, so the graph is written as its fields without the
// initializers, then each initializer (field 5 of GraphProto) as its fields without raw_data, then its
// raw_data (field 9 of TensorProto). Lengths are computed before anything is written.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { onnx } from 'onnx-proto';

const GRAPH_FIELD = 7; // ModelProto.graph
const INITIALIZER_FIELD = 5; // GraphProto.initializer
const RAW_DATA_FIELD = 9; // TensorProto.raw_data
const LENGTH_DELIMITED = 2;

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const tag = (field: number) => varint(field * 8 + LENGTH_DELIMITED);

/** The bytes of a length-delimited field, as a list of parts (the payload parts are not copied). */
function field(num: number, parts: Uint8Array[]): Uint8Array[] {
  const size = parts.reduce((n, p) => n + p.length, 0);
  return [tag(num), varint(size), ...parts];
}

export async function writeModelFile(path: string, model: onnx.IModelProto): Promise<void> {
  const graph = model.graph ?? {};
  const initializers = graph.initializer ?? [];
  const head = onnx.ModelProto.encode({ ...model, graph: undefined }).finish();
  const graphRest = onnx.GraphProto.encode({ ...graph, initializer: [] }).finish();
  const tensors = initializers.map((t) => {
    const rest = onnx.TensorProto.encode({ ...t, rawData: undefined }).finish();
    return field(INITIALIZER_FIELD, [rest, ...(t.rawData ? field(RAW_DATA_FIELD, [t.rawData]) : [])]);
  });
  const parts = [head, ...field(GRAPH_FIELD, [graphRest, ...tensors.flat()])];
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(tmp, 'w');
  try {
    for (const p of parts) if (p.length) await file.write(p);
    await file.close();
    await rename(tmp, path);
  } catch (e) {
    await file.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
