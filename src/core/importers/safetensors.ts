// Safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw data. A sharded checkpoint adds model.safetensors.index.json, which
// says which shard holds which tensor (sharded.ts).
//
// Only the header is read up front. Each tensor is read from disk when asked for, straight into the
// float32 array that keeps it, so importing never holds the whole file and its converted copy at once.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { openSharded } from './sharded';
import { CheckpointTensors, numel, TensorInfo, widen16 } from './tensors';

const BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const FLOAT_DTYPES = ['F32', 'F16', 'BF16'];
const MAX_HEADER = 100 << 20;

interface Entry extends TensorInfo {
  begin: number;
  end: number;
}

function fail(path: string, why: string): Error {
  return new Error(`${path} is not a valid safetensors file: ${why}.`);
}

function readExactly(fd: number, into: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw fail(path, `it ends at byte ${position + done}, inside a tensor (truncated)`);
    done += n;
  }
}

function parseHeader(path: string, fd: number): { entries: Map<string, Entry>; dataStart: number } {
  const size = fstatSync(fd).size;
  if (size < 8) throw fail(path, `it has ${size} bytes, less than its 8-byte header length (truncated)`);
  const lenBytes = new Uint8Array(8);
  readExactly(fd, lenBytes, 0, path);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER) throw fail(path, `its header claims ${headerLen} bytes`);
  if (8 + headerLen > size) throw fail(path, `its header claims ${headerLen} bytes but the file has ${size} (truncated)`);
  const headerBytes = new Uint8Array(headerLen);
  readExactly(fd, headerBytes, 8, path);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw fail(path, `its header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw fail(path, 'its header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const entries = new Map<string, Entry>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = String(e?.dtype);
    if (!(dtype in BYTES)) throw fail(path, `tensor ${name} has the unknown dtype ${JSON.stringify(e?.dtype)}`);
    const shape = e.shape;
    const offsets = e.data_offsets;
    const isCount = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(path, `tensor ${name} has the shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
      throw fail(path, `tensor ${name} has the data offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end - begin !== numel(shape) * BYTES[dtype]) {
      throw fail(path, `tensor ${name} (${dtype} [${shape}]) needs ${numel(shape) * BYTES[dtype]} bytes, its offsets span ${end - begin}`);
    }
    if (end > dataLen) {
      throw fail(path, `tensor ${name} ends at byte ${end} of the data, but the file holds ${dataLen} bytes of data (truncated)`);
    }
    entries.set(name, { dtype, shape: shape as number[], begin, end });
  }
  return { entries, dataStart };
}

/** One .safetensors file. */
export function openSafetensors(path: string): CheckpointTensors {
  const fd = openSync(path, 'r');
  let parsed: ReturnType<typeof parseHeader>;
  try {
    parsed = parseHeader(path, fd);
  } finally {
    closeSync(fd);
  }
  const { entries, dataStart } = parsed;
  return {
    source: path,
    names: () => [...entries.keys()],
    info: (name) => entries.get(name),
    read(name) {
      const e = entries.get(name);
      if (!e) throw new Error(`${path} has no tensor ${name}.`);
      if (!FLOAT_DTYPES.includes(e.dtype)) {
        throw new Error(`Tensor ${name} in ${path} has dtype ${e.dtype}; Token Lens imports F32, F16 and BF16 weights.`);
      }
      const out = new Float32Array(numel(e.shape));
      const f = openSync(path, 'r');
      try {
        if (e.dtype === 'F32') {
          // Little-endian on disk, as on every host Token Lens runs on: the bytes are the floats.
          readExactly(f, new Uint8Array(out.buffer), dataStart + e.begin, path);
        } else {
          const raw = new Uint8Array(e.end - e.begin);
          readExactly(f, raw, dataStart + e.begin, path);
          widen16(raw, e.dtype as 'F16' | 'BF16', out);
        }
      } finally {
        closeSync(f);
      }
      return out;
    },
  };
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** A sharded checkpoint: the index file and every shard it names (each must exist). */
export function openShardedSafetensors(indexPath: string): CheckpointTensors {
  return openSharded(indexPath, openSafetensors);
}
