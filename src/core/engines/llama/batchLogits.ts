// A text's logits at every position from one llama.cpp decode, read back fast.
//
// llama.cpp keeps the logits of every position of a batch after one llama_decode. node-llama-cpp reads them
// one position per native call, and each call is a trip through libuv's thread pool: made one after another
// (as `controlledEvaluate` does, behind one sampler) 512 positions cost ~150-250 ms, three times the decode.
// Here each position's calls go to one of several samplers at once, so the trips overlap: the same 512
// positions cost ~5-10 ms for the log-probabilities alone and ~25-35 ms with the best 100 candidates (the
// addon builds each returned number as its own JS value on the main thread: ~0.25 us each, 51,200 here).
//
// This uses node-llama-cpp's internal addon objects, as pinned (3.22.1): the context's `_ctx`, the
// sequence's `_sequenceId` and `_llama._bindings.AddonSampler`. The batch goes straight into the sequence's
// KV cells, which are emptied again right after the decode (the logits stay readable until the next decode),
// so node-llama-cpp's own view of the sequence (empty) stays true for generation.
import type { LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { AnalysisError } from '../../runtime/session';

type Sampled = [token: number, probabilities: unknown, confidence: unknown, logits: number[] | undefined, totalLogitWeight: number | undefined];
type LogitsRequest = boolean | [tokens: number[], includeMax: boolean, includeMin: boolean, includeSelected: boolean, includeTop: number];

interface AddonContext {
  initBatch(size: number): void;
  addToBatch(sequenceId: number, firstPosition: number, tokens: Uint32Array, logitPositions: Uint32Array): Uint32Array;
  decodeBatch(): Promise<void>;
  sampleToken(batchIndex: number, sampler: AddonSampler, probabilities: false, confidence: false, logits: LogitsRequest, totalLogitWeight: boolean): Promise<Sampled>;
  removeTokenCellsFromSequence(sequenceId: number, start: number, end: number): boolean;
}
interface AddonSampler {
  applyConfig(config: { temperature?: number; topK?: number; seed?: number }): void;
  dispose(): void;
}

/** Vocabularies up to this size are sorted whole by the call that reads the target's logit. */
const SORTED_WHOLE = 1024;

/** Positions read at once: more than libuv's 4 pool threads, so that finished calls overlap new ones. */
const LANES = 8;

/** One decoded batch: the batch index of each position's logits (-1 where none were asked for). */
export interface DecodedBatch {
  readonly ids: readonly number[];
  readonly index: Int32Array;
}

export interface BatchScores {
  targetLogprob: Float32Array;
  logSumExp: Float32Array;
  ranks: Int32Array;
  top: { k: number; ids: Int32Array; logits: Float32Array };
}

export class BatchLogits {
  private readonly ctx: AddonContext;
  private readonly sequenceId: number;
  /** Greedy samplers see the whole row: the target's logit, the sum of exp(logit - max), full rows. */
  private readonly whole: AddonSampler[];
  /** Top-k samplers keep the best k by a partial sort (asking a greedy one for its top sorts the row). */
  private readonly best: AddonSampler[];
  /** The batch whose logits llama.cpp holds now. */
  private current?: DecodedBatch;

  constructor(context: LlamaContext, private readonly sequence: LlamaContextSequence, model: LlamaModel,
    private readonly vocabSize: number, readonly k: number) {
    const internal = context as unknown as { _ctx: AddonContext; _llama: { _bindings: { AddonSampler: new (m: unknown) => AddonSampler } } };
    this.ctx = internal._ctx;
    this.sequenceId = (sequence as unknown as { _sequenceId: number })._sequenceId;
    const Sampler = internal._llama._bindings.AddonSampler;
    const addonModel = (model as unknown as { _model: unknown })._model;
    const sampler = (config: Parameters<AddonSampler['applyConfig']>[0]) => {
      const s = new Sampler(addonModel);
      s.applyConfig(config);
      return s;
    };
    this.whole = Array.from({ length: LANES }, () => sampler({ temperature: 0 }));
    // Temperature 1 leaves the logits as they are; the seeded draw only picks a token nobody reads.
    this.best = vocabSize > SORTED_WHOLE ? Array.from({ length: LANES }, () => sampler({ temperature: 1, topK: k, seed: 1 })) : [];
  }

  /** Decodes `ids` from position 0 with logits at `positions` (every position by default). */
  async decode(ids: readonly number[], positions?: readonly number[]): Promise<DecodedBatch> {
    this.current = undefined;
    await this.sequence.clearHistory();
    const T = ids.length;
    const wanted = Uint32Array.from(positions ? [...positions].sort((a, b) => a - b) : ids.keys());
    const index = new Int32Array(T).fill(-1);
    this.ctx.removeTokenCellsFromSequence(this.sequenceId, 0, -1);
    try {
      this.ctx.initBatch(T);
      const at = this.ctx.addToBatch(this.sequenceId, 0, Uint32Array.from(ids), wanted);
      wanted.forEach((p, j) => { index[p] = at[j]; });
      await this.ctx.decodeBatch();
    } catch (e) {
      throw new AnalysisError(`llama.cpp could not evaluate the ${T} tokens: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.ctx.removeTokenCellsFromSequence(this.sequenceId, 0, -1);
    }
    this.current = { ids, index };
    return this.current;
  }

  /** Another evaluation (generation) overwrites llama.cpp's logits. */
  forget(): void {
    this.current = undefined;
  }

  /** The full row after `position`: from `batch` while llama.cpp holds it, else from a decode up to it. */
  async row(batch: DecodedBatch, position: number): Promise<Float32Array> {
    if (this.current !== batch || batch.index[position] < 0) batch = await this.decode(batch.ids.slice(0, position + 1), [position]);
    return this.fullRow(batch, position, 0);
  }

  /** Per position: log p of the next token, log Z, the exact rank and the best k candidates. */
  async score(batch: DecodedBatch): Promise<BatchScores> {
    const { ids, index } = batch;
    const T = ids.length;
    const K = this.k;
    const targetLogprob = new Float32Array(T);
    const logSumExp = new Float32Array(T);
    const ranks = new Int32Array(T);
    const topIds = new Int32Array(T * K);
    const topLogits = new Float32Array(T * K);
    const lower: number[] = [];
    await lanes(T, async (t, lane) => {
      const next = t + 1 < T ? ids[t + 1] : -1;
      const { top, target, weight } = await this.read(index[t], next, lane);
      if (top.length < 2 * K || weight === undefined) throw new AnalysisError(`llama.cpp returned no logits at position ${t}.`);
      for (let j = 0; j < K; j++) {
        topIds[t * K + j] = top[2 * j];
        topLogits[t * K + j] = top[2 * j + 1];
      }
      logSumExp[t] = top[1] + Math.log(weight);
      if (next < 0) return;
      if (target === undefined) throw new AnalysisError(`llama.cpp returned no logit for token ${next} at position ${t}.`);
      targetLogprob[t] = target - logSumExp[t];
      let above = 0;
      for (let j = 0; j < K; j++) above += Number(top[2 * j + 1] > target);
      // Every token above the target is among the best K only when the K-th does not beat it.
      if (above === K && K < this.vocabSize) lower.push(t);
      ranks[t] = above + 1;
    });
    await lanes(lower.length, async (j, lane) => {
      const t = lower[j];
      const row = await this.fullRow(batch, t, lane);
      const target = row[ids[t + 1]];
      let above = 0;
      for (let i = 0; i < row.length; i++) above += Number(row[i] > target);
      ranks[t] = above + 1;
    });
    return { targetLogprob, logSumExp, ranks, top: { k: K, ids: topIds, logits: topLogits } };
  }

  /**
   * One position's best K (flat [id, logit, ...], best first), the logit of token `next` and the sum of
   * exp(logit - max) over the whole row. A small vocabulary is sorted whole in the same call; a large one
   * would cost ~2 ms per position to sort (32k), so its best K come from a top-k sampler's partial sort.
   */
  private async read(batchIndex: number, next: number, lane: number): Promise<{ top: number[]; target?: number; weight?: number }> {
    const K = this.k;
    const filter = next >= 0 ? [next] : [];
    if (this.vocabSize <= SORTED_WHOLE) {
      const [, , , pairs = [], weight] = await this.ctx.sampleToken(batchIndex, this.whole[lane], false, false, [filter, false, false, false, K], true);
      return { top: pairs, target: pairs[2 * K] === next ? pairs[2 * K + 1] : undefined, weight };
    }
    const [[, , , picked, weight], [, , , top = []]] = await Promise.all([
      this.ctx.sampleToken(batchIndex, this.whole[lane], false, false, [filter, false, false, false, 0], true),
      this.ctx.sampleToken(batchIndex, this.best[lane], false, false, [[], false, false, false, K], false),
    ]);
    return { top, target: picked?.[0] === next ? picked[1] : undefined, weight };
  }

  private async fullRow(batch: DecodedBatch, position: number, lane: number): Promise<Float32Array> {
    const [, , , pairs] = await this.ctx.sampleToken(batch.index[position], this.whole[lane], false, false, true, false);
    const row = new Float32Array(this.vocabSize).fill(-Infinity);
    for (let j = 0; j + 1 < (pairs?.length ?? 0); j += 2) if (pairs![j] < row.length) row[pairs![j]] = pairs![j + 1];
    return row;
  }

  dispose(): void {
    for (const s of [...this.whole, ...this.best]) s.dispose();
    this.current = undefined;
  }
}

/** Runs work(0..n-1) on LANES lanes: each lane's calls one after another, the lanes at once. */
async function lanes(n: number, work: (i: number, lane: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: Math.min(LANES, n) }, async (_, lane) => {
    for (let i = lane; i < n; i += LANES) await work(i, lane);
  }));
}
