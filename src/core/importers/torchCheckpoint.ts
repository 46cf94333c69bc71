// PyTorch checkpoints (torch.save since torch 1.6): a zip holding data.pkl, which describes the saved
// object, and data/<key>, the raw bytes of each tensor storage. The zip's top folder differs between torch
// versions ('archive/', or the checkpoint's own name), so entries are found by what their names end with.
//
// Tensors stay references into the zip until a mapping asks for one; an optimizer's state in the same
// file is never read.
import { Allowed, Buildable, PyDict, unpickle } from './pickle';
import { CheckpointTensors, numel, widen16 } from './tensors';
import { openZip, ZipFile } from './zip';

const STORAGE_BYTES: Record<string, number> = {
  FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, IntStorage: 4,
  ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1,
};

interface Storage {
  key: string;
  type: string;
}

export class TorchTensor {
  constructor(readonly storage: Storage, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

/** numpy's dtype and scalars, which a checkpoint may hold as plain numbers (e.g. best_val_loss). */
class NumpyDtype implements Buildable {
  order = '<';
  constructor(readonly code: string) {}
  setState(state: unknown) {
    if (Array.isArray(state) && typeof state[1] === 'string') this.order = state[1];
  }
}

function numpyScalar(dtype: unknown, data: unknown): number | null {
  if (!(dtype instanceof NumpyDtype) || !(data instanceof Uint8Array)) return null;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dtype.order !== '>';
  switch (dtype.code) {
    case 'f8': return v.getFloat64(0, le);
    case 'f4': return v.getFloat32(0, le);
    case 'i8': return Number(v.getBigInt64(0, le));
    case 'i4': return v.getInt32(0, le);
    case 'b1': return v.getUint8(0);
    default: return null;
  }
}

const rebuildTensor = (storage: unknown, offset: unknown, size: unknown, stride: unknown) => {
  if (!(storage && typeof storage === 'object' && 'key' in storage) || !Array.isArray(size) || !Array.isArray(stride)) {
    throw new Error('a tensor in the checkpoint is not stored the way torch.save stores tensors');
  }
  return new TorchTensor(storage as Storage, Number(offset), size.map(Number), stride.map(Number));
};

const ALLOWED: Allowed = {
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_tensor': rebuildTensor,
  'torch._utils._rebuild_parameter': (data) => data,
  'torch._utils._rebuild_parameter_with_state': (data) => data,
  'collections.OrderedDict': () => new Map(),
  'numpy.core.multiarray.scalar': numpyScalar,
  'numpy._core.multiarray.scalar': numpyScalar,
  'numpy.dtype': (code) => new NumpyDtype(String(code)),
  // Protocol-2 pickles spell bytes as _codecs.encode(text, 'latin1').
  '_codecs.encode': (s, enc) => (enc === 'latin1' ? Uint8Array.from(String(s), (c) => c.charCodeAt(0)) : null),
  // Storage types appear only as names inside a persistent id; nothing calls them.
  ...Object.fromEntries(Object.keys(STORAGE_BYTES).map((n) => [`torch.${n}`, () => null])),
};

export interface TorchCheckpoint {
  path: string;
  /** The object torch.save was given (dicts are Maps). */
  root: unknown;
  /** The tensors of a state dict inside root. */
  tensors(stateDict: PyDict): CheckpointTensors;
}

export function readTorchCheckpoint(path: string): TorchCheckpoint {
  const zip = openZip(path);
  const pkl = zip.find('/data.pkl');
  if (!pkl) throw new Error(`${path} is a zip file but not a PyTorch checkpoint: it has no data.pkl.`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = zip.find('/byteorder');
  if (order && zip.read(order).toString().trim() !== 'little') throw new Error(`${path} was saved on a big-endian machine; re-save it on a little-endian one.`);
  const root = unpickle(zip.read(pkl), {
    what: `${path} (${pkl})`,
    allowed: ALLOWED,
    persistentLoad(pid) {
      // ('storage', storage_type, key, location, numel)
      if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] && typeof pid[1] === 'object')) {
        throw new Error(`${path}: data.pkl refers to external data that is not a tensor storage.`);
      }
      const type = (pid[1] as { fullName?: string }).fullName?.replace(/^torch\./, '') ?? '';
      return { key: String(pid[2]), type } satisfies Storage;
    },
  });
  return { path, root, tensors: (sd) => stateDictTensors(zip, prefix, sd) };
}

function stateDictTensors(zip: ZipFile, prefix: string, sd: PyDict): CheckpointTensors {
  const tensors = new Map<string, TorchTensor>();
  for (const [k, v] of sd) if (typeof k === 'string' && v instanceof TorchTensor) tensors.set(k, v);
  return {
    source: zip.path,
    names: () => [...tensors.keys()],
    info: (name) => {
      const t = tensors.get(name);
      return t && { dtype: t.storage.type, shape: t.shape };
    },
    read(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${zip.path} has no tensor ${name}.`);
      const width = STORAGE_BYTES[t.storage.type];
      if (!['FloatStorage', 'HalfStorage', 'BFloat16Storage'].includes(t.storage.type)) {
        throw new Error(`Tensor ${name} in ${zip.path} is a ${t.storage.type || 'storage of unknown type'}; Token Lens imports float32, float16 and bfloat16 weights.`);
      }
      const entry = `${prefix}data/${t.storage.key}`;
      const raw = zip.read(entry);
      const all = new Float32Array(raw.length / width);
      if (width === 4) new Uint8Array(all.buffer).set(raw);
      else widen16(raw, t.storage.type === 'HalfStorage' ? 'F16' : 'BF16', all);
      return gather(all, t, name, zip.path);
    },
  };
}

/** The tensor's elements in row-major order, from its storage, offset and strides. */
function gather(storage: Float32Array, t: TorchTensor, name: string, path: string): Float32Array {
  const n = numel(t.shape);
  let last = t.offset;
  t.shape.forEach((d, i) => (last += d > 0 ? (d - 1) * t.stride[i] : 0));
  if (n > 0 && (t.offset < 0 || last >= storage.length)) {
    throw new Error(`Tensor ${name} in ${path} reaches past the end of its storage (truncated or corrupt).`);
  }
  const contiguous = t.shape.every((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1) === t.stride[i] || t.shape[i] === 1);
  if (contiguous) return t.offset === 0 && n === storage.length ? storage : storage.slice(t.offset, t.offset + n);
  const out = new Float32Array(n);
  const idx = new Array(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let at = t.offset;
    for (let d = 0; d < idx.length; d++) at += idx[d] * t.stride[d];
    out[i] = storage[at];
    for (let d = idx.length - 1; d >= 0 && ++idx[d] === t.shape[d]; d--) idx[d] = 0;
  }
  return out;
}

/** A file torch.save wrote a state dict to (Hugging Face's pytorch_model.bin): its tensors, read lazily. */
export function openTorchStateDict(path: string): CheckpointTensors {
  const ckpt = readTorchCheckpoint(path);
  if (!(ckpt.root instanceof Map) || ![...ckpt.root.values()].some((v) => v instanceof TorchTensor)) {
    throw new Error(`${path} is a PyTorch file but not a state dict (a mapping from names to tensors).`);
  }
  return ckpt.tensors(ckpt.root as PyDict);
}
