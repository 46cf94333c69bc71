// Runs a written model with onnxruntime-node, feeding what transformers.js feeds.
import * as ort from 'onnxruntime-node';
import type { DecoderConfig, Weights } from '../../src/core/models/config';
import { normalStream } from '../../src/core/models/random';

export async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

export interface Past { [name: string]: ort.Tensor }

/** One forward: rows of ids (equal lengths), optional mask over past + new, optional past cache. */
export async function run(s: ort.InferenceSession, c: DecoderConfig, ids: number[][], opts: { mask?: number[][]; past?: Past } = {}) {
  const B = ids.length;
  const T = ids[0].length;
  const pastLen = opts.past ? opts.past['past_key_values.0.key'].dims[2] : 0;
  const mask = opts.mask ?? ids.map(() => Array(pastLen + T).fill(1));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [B, T]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask.flat().map(BigInt)), [B, pastLen + T]),
  };
  for (let i = 0; i < c.n_layer; i++) {
    for (const kv of ['key', 'value']) {
      const name = `past_key_values.${i}.${kv}`;
      feeds[name] = opts.past?.[name] ?? new ort.Tensor('float32', new Float32Array(0), [B, c.n_kv_head, 0, c.head_dim]);
    }
  }
  const out = await s.run(feeds);
  const present: Past = {};
  for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) present[k.replace('present', 'past_key_values')] = v;
  return { out, present };
}

/** Makes random weights sharp enough that attention and logits are far from uniform. */
export function sharpen(weights: Weights, seed: number): Weights {
  const normal = normalStream(seed);
  const out: Weights = new Map();
  for (const [name, t] of weights) {
    const data = Float32Array.from(t.data);
    const isVector = t.shape.length === 1;
    for (let i = 0; i < data.length; i++) {
      data[i] = isVector ? data[i] + 0.3 * normal() : data[i] * 15;
    }
    out.set(name, { data, shape: t.shape });
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
