// What every checkpoint reader hands to the architecture mappings: tensors by the checkpoint's own names,
// read (and converted to float32) only when asked for. Reading lazily keeps peak memory near the size of
// the weights a model needs, whatever else the file holds (an optimizer's state, mask buffers).
import { halfToFloat } from '../float16';

export interface TensorInfo {
  /** The checkpoint's dtype name, e.g. 'F32', 'BF16' (safetensors) or 'HalfStorage' (torch). */
  dtype: string;
  shape: number[];
}

export interface CheckpointTensors {
  /** What the tensors came from, for messages: a file or a folder. */
  readonly source: string;
  names(): string[];
  info(name: string): TensorInfo | undefined;
  /** The tensor as float32, row-major in `info(name).shape`. Throws for a name `info` does not know. */
  read(name: string): Float32Array;
}

export const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
  return t;
})();

/** Little-endian 16-bit floats (F16 or BF16) to float32. */
export function widen16(bytes: Uint8Array, kind: 'F16' | 'BF16', out: Float32Array): Float32Array {
  const n = out.length;
  if (kind === 'BF16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = HALF_TABLE[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  }
  return out;
}
