// One forward pass straight on the onnxruntime session that transformers.js created, fetching only
// the outputs asked for (logits, and attention when wanted).
import * as ort from 'onnxruntime-node';
import { ABOVE, LOGSUMEXP, TARGET_LOGPROB, TOP_IDS, TOP_LOGITS, hasRankingHead, hasScoringHead } from '../onnx/scoringHead';

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
  /** Absent when the pass was asked not to bring them out and the graph ranks by itself. */
  logits?: Float32Array;
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

/** A KV cache to continue from: `tensors[past_key_values.*]` hold the keys and values of `length` positions. */
export interface Past {
  length: number;
  tensors: Record<string, ort.Tensor>;
}

/**
 * Builds the feeds a decoder expects for a forward pass over `ids`: one sequence, or a batch of sequences
 * of equal length. Without `past` the cache is empty, of the cache's element type (float16 in a float16
 * export); with it (one sequence only), `ids` continue its `past.length` positions.
 */
export function decoderFeeds(inputNames: readonly string[], ids: number[] | number[][], cache: CacheShape,
  pastType: 'float32' | 'float16' = 'float32', past?: Past): Record<string, ort.Tensor> {
  const rows = typeof ids[0] === 'number' ? [ids as number[]] : ids as number[][];
  const B = rows.length, T = rows[0].length;
  if (rows.some((r) => r.length !== T)) throw new Error('decoderFeeds: the sequences of a batch must have one length');
  if (past && B !== 1) throw new Error('decoderFeeds: a past continues one sequence only');
  const P = past?.length ?? 0;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputNames) {
    if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [B, T]);
    else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(B * (P + T)).fill(1n), [B, P + T]);
    // Masked models' segment ids (BERT's token types): one segment, the text.
    else if (name === 'token_type_ids') feeds[name] = new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
    else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(P + (i % T))), [B, T]);
    else if (name.startsWith('past_key_values.')) {
      if (past) {
        const kept = past.tensors[name];
        if (!kept) throw new Error(`The kept cache has no "${name}".`);
        feeds[name] = kept;
        continue;
      }
      const empty = pastType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
      feeds[name] = new ort.Tensor(pastType, empty, [B, cache.kvHeads, 0, cache.headDim]);
    }
    else if (name === 'use_cache_branch') feeds[name] = new ort.Tensor('bool', new Uint8Array([P > 0 ? 1 : 0]), [1]);
    else throw new Error(`This model needs an input Token Lens does not know how to fill: "${name}".`);
  }
  return feeds;
}

/** The output that carries an input's updated cache: `past_key_values.0.key` -> `present.0.key`. */
export function presentName(pastName: string): string {
  return pastName.replace(/^past_key_values\./, 'present.');
}

/** Whether the graph returns its whole KV cache, so that a later pass can continue from it. */
export function canContinue(inputNames: readonly string[], outputNames: readonly string[]): boolean {
  const past = inputNames.filter((n) => n.startsWith('past_key_values.'));
  return past.length > 0 && past.every((n) => outputNames.includes(presentName(n)));
}

/** The first `length` positions of a kept cache tensor [1, heads, S, headDim] (the cache of a shared prefix). */
export function leadingPositions(t: ort.Tensor, length: number): ort.Tensor {
  const [B, H, S, D] = t.dims;
  if (length === S) return t;
  if (length > S) throw new Error(`the kept cache has ${S} positions, ${length} were asked for`);
  const data = t.data as Float32Array | Uint16Array;
  const out = data instanceof Uint16Array ? new Uint16Array(B * H * length * D) : new Float32Array(B * H * length * D);
  for (let bh = 0; bh < B * H; bh++) out.set(data.subarray(bh * S * D, bh * S * D + length * D), bh * length * D);
  return new ort.Tensor(t.type as 'float32', out, [B, H, length, D]);
}

export interface ForwardOptions {
  attentionNames?: string[] | null;
  /** A KV cache to continue: `ids` are then the tokens after its positions. */
  past?: Past;
  /** Return the whole KV cache after the pass as `present` (keyed by input name, ready to feed a later pass). */
  keepCache?: boolean;
  /**
   * Bring the [T, V] logits out of onnxruntime (default). Without them, a graph whose scoring head ranks
   * (hasRankingHead) returns `ranked` instead; other graphs return the logits anyway.
   */
  logits?: boolean;
}

/** One pass over `ids` (see ForwardOptions). */
export async function forward(session: ort.InferenceSession, ids: number[], cache: CacheShape,
  opts: ForwardOptions = {}): Promise<ForwardResult & { present?: Record<string, ort.Tensor> }> {
  const scoring = hasScoringHead(session.outputNames);
  const logitsMeta = session.outputMetadata.find((m) => m.name === 'logits');
  const width = logitsMeta?.isTensor ? logitsMeta.shape.at(-1) : undefined;
  const ranking = hasRankingHead(session.outputNames);
  // Without the logits, the vocabulary size comes from the graph's declared shape.
  const wantLogits = opts.logits !== false || !ranking || typeof width !== 'number';
  const pastNames = opts.keepCache ? session.inputNames.filter((n) => n.startsWith('past_key_values.')) : [];
  const fetches = [...(wantLogits ? ['logits'] : []), ...(scoring ? [TARGET_LOGPROB, LOGSUMEXP] : []),
    ...(ranking ? [ABOVE, TOP_LOGITS, TOP_IDS] : []), ...(opts.attentionNames ?? []), ...pastNames.map(presentName)];
  const pastMeta = session.inputMetadata.find((m) => m.name.startsWith('past_key_values.'));
  const pastType = pastMeta?.isTensor && pastMeta.type === 'float16' ? 'float16' : 'float32';
  const out = await session.run(decoderFeeds(session.inputNames, ids, cache, pastType, opts.past), fetches);
  const logits = out.logits;
  if (logits && (logits.dims.length !== 3 || logits.dims[1] !== ids.length)) throw new Error(`Unexpected logits shape [${logits.dims}]`);
  const vocabSize = logits ? logits.dims[2] : width as number;
  let heads = 0;
  const attentions = opts.attentionNames?.map((name) => {
    const t = out[name];
    heads = t.dims.length === 4 ? t.dims[1] : t.dims[0];
    return t.data as Float32Array;
  }) ?? null;
  const scores = scoring
    ? { targetLogprob: out[TARGET_LOGPROB].data as Float32Array, logSumExp: out[LOGSUMEXP].data as Float32Array }
    : null;
  const present = opts.keepCache ? Object.fromEntries(pastNames.map((n) => [n, out[presentName(n)]])) : undefined;
  return {
    logits: logits ? float32(logits) : undefined, vocabSize, attentions, heads, scores, present,
    ranked: ranking ? rankedByGraph(out[ABOVE].data as Int32Array, out[TOP_LOGITS], out[TOP_IDS].data as Int32Array) : undefined,
  };
}

/** The scoring head's ranks and candidates in the shapes analyses keep (topRows.ts). */
function rankedByGraph(above: Int32Array, topLogits: ort.Tensor, topIds: Int32Array): Ranked {
  const [, T, k] = topLogits.dims;
  // The last position has no next token: rank 1, as rankAndTop gives it.
  const ranks = new Int32Array(T).fill(1);
  for (let t = 0; t < T - 1; t++) ranks[t] = above[t] + 1;
  return { ranks, top: { k, ids: topIds, logits: topLogits.data as Float32Array } };
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
