// An ONNX model file as a list of byte parts, with each initializer's bytes taken straight from its weight
// array. Encoding the whole ModelProto first would hold a second copy of every weight (a 500 MB model
// would need 1 GB); written part by part, the encoded file never exists in memory.
//
// Protobuf lets a message's fields come in any order, so the graph is its fields without the initializers,
// then each initializer (field 5 of GraphProto) as its fields without raw_data, then its raw_data (field 9
// of TensorProto). Lengths are computed from the parts before anything is written.
//
// A protobuf message cannot pass 2 GB, so larger models keep their weights in an external data file beside
// the model file (`model.onnx_data`, the layout onnxruntime and transformers.js load): each large
// initializer then names that file, an offset and a length, and its bytes become parts of the data file.
import { onnx } from 'onnx-proto';

const GRAPH_FIELD = 7; // ModelProto.graph
const INITIALIZER_FIELD = 5; // GraphProto.initializer
const RAW_DATA_FIELD = 9; // TensorProto.raw_data
const LENGTH_DELIMITED = 2;

/** Initializers smaller than this stay inside the model file (shape constants, scalars), as onnx's own converter does. */
const EXTERNAL_MIN_BYTES = 1024;
/** Each tensor starts at a page boundary of the data file, so onnxruntime can map it in place. */
const ALIGN = 4096;

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

/** The bytes every initializer's raw data takes: what decides whether a model needs external data. */
export function initializerBytes(model: onnx.IModelProto): number {
  return (model.graph?.initializer ?? []).reduce((n, t) => n + (t.rawData?.length ?? 0), 0);
}

/**
 * The model file and its external data file as parts: every initializer of EXTERNAL_MIN_BYTES or more moves
 * to `location` (a file name beside the model file). `model` itself is not changed.
 */
export function modelFilePartsWithExternalData(model: onnx.IModelProto, location: string): { model: Uint8Array[]; data: Uint8Array[] } {
  const data: Uint8Array[] = [];
  let offset = 0;
  const initializer = (model.graph?.initializer ?? []).map((t) => {
    const raw = t.rawData;
    if (!raw || raw.length < EXTERNAL_MIN_BYTES) return t;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) data.push(new Uint8Array(pad));
    offset += pad;
    data.push(raw);
    const external: onnx.ITensorProto = {
      ...t, rawData: undefined, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) },
      ],
    };
    offset += raw.length;
    return external;
  });
  return { model: modelFileParts({ ...model, graph: { ...model.graph, initializer } }), data };
}
