// One forward pass straight on the onnxruntime session that transformers.js created, fetching only
// the outputs asked for (logits, and attention when wanted).
import * as ort from 'onnxruntime-node';
import { LOGSUMEXP, TARGET_LOGPROB, hasScoringHead } from '../onnx/scoringHead';

import type { AttentionLayer } from './attentionLayer';
import type { Ranked } from './topRows';
import { halfToFloat } from '../float16';

export interface CacheShape {
  kvHeads: number;
  headDim: number;
}

/** A tensor as plain data, as it crosses from the forward-pass worker. */
export interface RawTensor {
  data: Float32Array;
  dims: number[];
}

export interface ForwardResult {
  logits: Float32Array;
  vocabSize: number;
  /** attentions[i]: [heads, T, T] row-major, for each attention output asked for. */
  attentions: Float32Array[] | null;
  /** The same as the views use them (heads and grids), when the worker thread built them. */
  layers?: AttentionLayer[];
  heads: number;
  /** From the scoring head, when the graph has one. */
  scores: { targetLogprob: Float32Array; logSumExp: Float32Array } | null;
  /** Each next token's rank and every row's best candidates, when the worker thread computed them. */
  ranked?: Ranked;
}

/**
 * Builds the feeds a decoder expects for a plain forward pass over `ids` (no past): one sequence, or a batch
 * of sequences of equal length. The empty past has the cache's element type: float16 in a float16 export.
 */
export function decoderFeeds(inputNames: readonly string[], ids: number[] | number[][], cache: CacheShape,
  pastType: 'float32' | 'float16' = 'float32'): Record<string, ort.Tensor> {
  const rows = typeof ids[0] === 'number' ? [ids as number[]] : ids as number[][];
  const B = rows.length, T = rows[0].length;
  if (rows.some((r) => r.length !== T)) throw new Error('decoderFeeds: the sequences of a batch must have one length');
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputNames) {
    if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [B, T]);
    else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
    // Masked models' segment ids (BERT's token types): one segment, the text.
    else if (name === 'token_type_ids') feeds[name] = new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
    else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)), [B, T]);
    else if (name.startsWith('past_key_values.')) {
      const empty = pastType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
      feeds[name] = new ort.Tensor(pastType, empty, [B, cache.kvHeads, 0, cache.headDim]);
    }
    else if (name === 'use_cache_branch') feeds[name] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    else throw new Error(`This model needs an input Token Lens does not know how to fill: "${name}".`);
  }
  return feeds;
}

export async function forward(session: ort.InferenceSession, ids: number[], cache: CacheShape,
  attentionNames: string[] | null): Promise<ForwardResult> {
  const scoring = hasScoringHead(session.outputNames);
  const fetches = ['logits', ...(scoring ? [TARGET_LOGPROB, LOGSUMEXP] : []), ...(attentionNames ?? [])];
  const past = session.inputMetadata.find((m) => m.name.startsWith('past_key_values.'));
  const pastType = past?.isTensor && past.type === 'float16' ? 'float16' : 'float32';
  const out = await session.run(decoderFeeds(session.inputNames, ids, cache, pastType), fetches);
  const logits = out.logits;
  const dims = logits.dims;
  const vocabSize = dims[dims.length - 1];
  if (dims.length !== 3 || dims[1] !== ids.length) throw new Error(`Unexpected logits shape [${dims}]`);
  let heads = 0;
  const attentions = attentionNames?.map((name) => {
    const t = out[name];
    heads = t.dims.length === 4 ? t.dims[1] : t.dims[0];
    return t.data as Float32Array;
  }) ?? null;
  const scores = scoring
    ? { targetLogprob: out[TARGET_LOGPROB].data as Float32Array, logSumExp: out[LOGSUMEXP].data as Float32Array }
    : null;
  return { logits: float32(logits), vocabSize, attentions, heads, scores };
}

/** A float tensor's values as float32 (a float16 export's logits arrive as raw half-precision bits). */
function float32(t: ort.Tensor): Float32Array {
  if (t.type !== 'float16') return t.data as Float32Array;
  if (!(t.data instanceof Uint16Array)) return Float32Array.from(t.data as ArrayLike<number>);
  return Float32Array.from(t.data, halfToFloat);
}


/** One pass over a batch of equal-length sequences (no past), fetching the named float outputs as float32. */
export async function runOutputs(session: ort.InferenceSession, rows: number[][], cache: CacheShape,
  outputs: string[]): Promise<Record<string, RawTensor>> {
  const past = session.inputMetadata.find((m) => m.name.startsWith('past_key_values.'));
  const pastType = past?.isTensor && past.type === 'float16' ? 'float16' : 'float32';
  const out = await session.run(decoderFeeds(session.inputNames, rows, cache, pastType), outputs);
  return Object.fromEntries(outputs.map((name) => [name, { data: float32(out[name]), dims: [...out[name].dims] }]));
}
