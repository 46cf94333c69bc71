// Taking a model's tensors out of a checkpoint by the checkpoint's own names, each checked against the
// shape the config implies. Messages name the tensor as the checkpoint names it.
import type { Tensor, Weights } from '../models/config';
import type { CheckpointTensors } from './tensors';

export function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let k = 0; k < cols; k++) out[k * rows + r] = src[o + k];
  }
  return out;
}

/** Columns [from, from + width) of a row-major [rows, cols] matrix. */
export function columns(src: Float32Array, rows: number, cols: number, from: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

export class TensorPicker {
  readonly weights: Weights = new Map();

  /** `prefix` is prepended to every name asked for (e.g. 'model.' or '_orig_mod.'). */
  constructor(readonly src: CheckpointTensors, readonly prefix = '') {}

  has(name: string): boolean {
    return this.src.info(this.prefix + name) !== undefined;
  }

  /** The tensor `name`, which must have `shape`. */
  get(name: string, shape: number[]): Float32Array {
    const full = this.prefix + name;
    const info = this.src.info(full);
    if (!info) throw new Error(`The checkpoint ${this.src.source} has no tensor ${full}.`);
    if (info.shape.join() !== shape.join()) {
      throw new Error(`Tensor ${full} in ${this.src.source} has shape [${info.shape.join(', ')}], but the config implies [${shape.join(', ')}].`);
    }
    return this.src.read(full);
  }

  /** A PyTorch nn.Linear weight ([out, in]) as Token Lens keeps it: [in, out]. */
  linear(name: string, out: number, inp: number): Float32Array {
    return transpose(this.get(name, [out, inp]), out, inp);
  }

  set(name: string, data: Float32Array, shape: number[]): void {
    this.weights.set(name, { data, shape } satisfies Tensor);
  }

  /** Copies a tensor under a canonical name, unchanged. */
  copy(canonical: string, name: string, shape: number[]): void {
    this.set(canonical, this.get(name, shape), shape);
  }
}

/** The first of `prefixes` under which the checkpoint has `probe` (e.g. HF models saved with or without 'model.'). */
export function findPrefix(src: CheckpointTensors, probe: string, prefixes: string[]): string {
  const hit = prefixes.find((p) => src.info(p + probe) !== undefined);
  if (hit === undefined) {
    throw new Error(`The checkpoint ${src.source} has no tensor ${prefixes[0]}${probe}` +
      (prefixes.length > 1 ? ` (nor ${prefixes.slice(1).map((p) => p + probe).join(', ')})` : '') + '.');
  }
  return hit;
}
