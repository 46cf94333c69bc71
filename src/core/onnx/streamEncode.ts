// An ONNX model file as a list of byte parts, with each initializer's bytes taken straight from its weight
// array. Encoding the whole ModelProto first would hold a second copy of every weight (a 500 MB model
// would need 1 GB); written part by part, the encoded file never exists in memory.
//
// Protobuf lets a message's fields come in any order, so the graph is its fields without the initializers,
// then each initializer (field 5 of GraphProto) as its fields without raw_data, then its raw_data (field 9
// of TensorProto). Lengths are computed from the parts before anything is written.
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

/** A length-delimited field as parts (the payload parts are not copied). */
function field(num: number, parts: Uint8Array[]): Uint8Array[] {
  const size = parts.reduce((n, p) => n + p.length, 0);
  return [varint(num * 8 + LENGTH_DELIMITED), varint(size), ...parts];
}

/** The bytes of `model` as parts that, concatenated, are a valid .onnx file. */
export function modelFileParts(model: onnx.IModelProto): Uint8Array[] {
  const graph = model.graph ?? {};
  const head = onnx.ModelProto.encode({ ...model, graph: undefined }).finish();
  const graphRest = onnx.GraphProto.encode({ ...graph, initializer: [] }).finish();
  const tensors = (graph.initializer ?? []).map((t) => {
    const rest = onnx.TensorProto.encode({ ...t, rawData: undefined }).finish();
    return field(INITIALIZER_FIELD, [rest, ...(t.rawData ? field(RAW_DATA_FIELD, [t.rawData]) : [])]);
  });
  return [head, ...field(GRAPH_FIELD, [graphRest, ...tensors.flat()])].filter((p) => p.length > 0);
}
