// The result of one forward pass over a text: tokens with their scores, and what is needed to answer
// later questions (another position's candidates, other sampling controls, attention).
// What it keeps is bounded: the per-token scores and each position's best candidates always; the full
// [T, V] logits only while the shared MemoryBudget has room, recomputed (one forward pass) when a full row
// is asked for after they were let go.
import { controlledDistribution, logSumExp } from '../analysis/distribution';
import type { AnalysisWindow, AttentionData, Candidate, SamplingControls, ScoredToken, Token } from '../types';
import type { MemoryBudget } from './cache';
import { nextTargets, rankAndTop, type Ranked, type TopRows } from './topRows';

export interface AnalysisInput {
  modelId: string;
  text: string;
  tokens: Token[];
  /**
   * Row-major [tokens.length, vocabSize] logits: row t is the distribution after token t. May be absent
   * when `scores` and `ranked` are given: they are then computed again when a full row is asked for.
   */
  logits?: Float32Array;
  vocabSize: number;
  window: AnalysisWindow;
  attention: AttentionData | null;
  attentionNote?: string;
  decode: (id: number) => string;
  /** Computed inside the graph (the scoring head): log p of each actual next token, and log Z per row. */
  scores?: { targetLogprob: Float32Array; logSumExp: Float32Array } | null;
  /** Where the logits are kept while there is room. */
  memory: MemoryBudget;
  /** Runs the model again on the same tokens and returns the logits (after the budget let them go). */
  recompute: () => Promise<Float32Array>;
  /** Ranks and best candidates computed elsewhere (the forward-pass thread); computed here otherwise. */
  ranked?: Ranked;
}

/** Rough size of one token object (fields, offsets, scores) on the JS heap, for the accounting. */
const TOKEN_BYTES = 120;

export class Analysis {
  readonly modelId: string;
  readonly text: string;
  readonly tokens: ScoredToken[];
  readonly meanLoss: number;
  readonly perplexity: number;
  readonly window: AnalysisWindow;
  readonly vocabSize: number;
  readonly attention: AttentionData | null;
  readonly attentionNote?: string;
  private logits?: Float32Array;
  private reloading?: Promise<Float32Array>;
  private readonly top: TopRows;
  private readonly logSumExps: Float64Array;
  private readonly decode: (id: number) => string;
  private readonly memory: MemoryBudget;
  private readonly recompute: () => Promise<Float32Array>;

  constructor(input: AnalysisInput) {
    this.modelId = input.modelId;
    this.text = input.text;
    this.window = input.window;
    this.vocabSize = input.vocabSize;
    this.attention = input.attention;
    this.attentionNote = input.attentionNote;
    this.decode = input.decode;
    this.memory = input.memory;
    this.recompute = input.recompute;
    const n = input.tokens.length;
    const V = input.vocabSize;
    const logits = input.logits;
    if (!logits && (!input.ranked || !input.scores)) throw new Error('an analysis without logits needs its scores and ranks');
    const { ranks, top } = input.ranked ?? rankAndTop(logits!, V, nextTargets(input.tokens.map((t) => t.id)));
    this.top = top;
    const scores = input.scores;
    this.logSumExps = scores
      ? Float64Array.from(scores.logSumExp)
      : Float64Array.from({ length: n }, (_, t) => logSumExp(logits!.subarray(t * V, (t + 1) * V)));
    let total = 0;
    let counted = 0;
    this.tokens = input.tokens.map((token, t) => {
      if (t === 0) return { ...token, prob: null, rank: null, loss: null };
      const loss = scores ? -scores.targetLogprob[t - 1] : this.logSumExps[t - 1] - logits![(t - 1) * V + token.id];
      total += loss;
      counted++;
      return { ...token, prob: Math.exp(-loss), rank: ranks[t - 1], loss };
    });
    this.meanLoss = counted ? total / counted : NaN;
    this.perplexity = Math.exp(this.meanLoss);
    this.memory.pin(this, this.pinnedBytes);
    if (logits) this.keep(logits);
  }

  /**
   * Rows 0..rows-1 as computed: scores, ranks and best candidates. An analysis of a text whose first
   * rows+1 tokens are the same has the same rows, and takes them from here.
   */
  leadingRows(rows: number): Ranked & { scores: { targetLogprob: Float32Array; logSumExp: Float32Array } } {
    if (rows >= this.tokens.length) throw new RangeError(`only ${this.tokens.length - 1} rows have a next token`);
    const K = this.top.k;
    const next = (t: number) => this.tokens[t + 1];
    return {
      ranks: Int32Array.from({ length: rows }, (_, t) => next(t).rank!),
      top: { k: K, ids: this.top.ids.slice(0, rows * K), logits: this.top.logits.slice(0, rows * K) },
      scores: {
        targetLogprob: Float32Array.from({ length: rows }, (_, t) => -next(t).loss!),
        logSumExp: Float32Array.from(this.logSumExps.subarray(0, rows)),
      },
    };
  }

  /** Bytes this analysis keeps for as long as it lives: scores, best candidates, attention. */
  get pinnedBytes(): number {
    const att = this.attention ? this.attention.layers * this.attention.heads * this.attention.size ** 2 * 4 : 0;
    return this.tokens.length * TOKEN_BYTES + this.logSumExps.byteLength + this.top.ids.byteLength +
      this.top.logits.byteLength + att;
  }

  /** Whether the full logits are in memory now (false once the memory budget let them go). */
  get hasLogits(): boolean {
    return this.logits !== undefined;
  }

  /** Logits of the distribution after tokens[position]; runs the model again if they were let go. */
  async row(position: number): Promise<Float32Array> {
    this.checkPosition(position);
    const logits = this.logits ?? await this.reload();
    this.memory.touch(this);
    return logits.subarray(position * this.vocabSize, (position + 1) * this.vocabSize);
  }

  /** The k (at most 100) most likely next tokens after tokens[position], with softmax probabilities. */
  topK(position: number, k: number): Candidate[] {
    this.checkPosition(position);
    const K = this.top.k;
    k = Math.max(0, Math.min(k, this.vocabSize));
    if (k > K) throw new RangeError(`at most ${K} candidates are kept per position, ${k} were asked for`);
    const lse = this.logSumExps[position];
    return Array.from({ length: k }, (_, j) => {
      const id = this.top.ids[position * K + j];
      const logit = this.top.logits[position * K + j];
      return { id, text: this.decode(id), prob: Math.exp(logit - lse), logit };
    });
  }

  /** The next-token distribution after tokens[position] under sampling controls, renormalised exactly. */
  async distribution(position: number, controls: SamplingControls, k: number): Promise<Candidate[] & { kept?: number }> {
    const { tokens, kept } = controlledDistribution(await this.row(position), controls, k);
    const out: Candidate[] & { kept?: number } = tokens.map((t) => ({ id: t.id, text: this.decode(t.id), prob: t.prob, logit: t.logit }));
    out.kept = kept;
    return out;
  }

  /** Index of the token whose span covers a UTF-16 offset of the text; the last one starting before it otherwise. */
  tokenIndexAt(offset: number): number {
    let found = -1;
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      if (t.special) continue;
      if (t.start <= offset) found = i;
      if (offset < t.end) break;
    }
    return found;
  }

  private keep(logits: Float32Array): void {
    this.logits = logits;
    if (!this.memory.hold(this, logits.byteLength, () => { this.logits = undefined; })) this.logits = undefined;
  }

  private reload(): Promise<Float32Array> {
    this.reloading ??= this.recompute().then((logits) => {
      this.keep(logits);
      return logits;
    }).finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private checkPosition(position: number): void {
    const count = this.tokens.length;
    if (!Number.isInteger(position) || position < 0 || position >= count) {
      throw new RangeError(`position ${position} is outside 0..${count - 1}`);
    }
  }
}
