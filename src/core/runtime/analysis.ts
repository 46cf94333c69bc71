// The result of one forward pass over a text: tokens with their scores, and what is needed to answer
// later questions (another position's candidates, other sampling controls, attention).
// What it keeps is bounded: the per-token scores and each position's best candidates always; the full
// [T, V] logits only while the shared MemoryBudget has room, recomputed (one forward pass) when a full row
// is asked for after they were let go.
import { controlledDistribution, logSumExp } from '../analysis/distribution';
import { tokenIndexAt } from '../tokenizers/offsets';
import type { AnalysisWindow, AttentionData, Candidate, SamplingControls, ScoredToken, Token } from '../types';
import type { AttentionLayer } from './attentionLayer';
import { AttentionStore } from './attentionStore';
import type { MemoryBudget } from './cache';
import { nextTargets, rankAndTop, type Ranked, type TopRows } from './topRows';

export interface AnalysisInput {
  modelId: string;
  text: string;
  tokens: Token[];
  /**
   * Row-major [tokens.length, vocabSize] logits: row t is the distribution after token t. An engine that
   * does not hand out every row (llama.cpp) gives `ranked`, `scores` and `fetchRow` instead; without
   * `fetchRow`, a full row is computed again when one is asked for.
   */
  logits?: Float32Array;
  /** One full row of logits, asked from the engine when a view needs it (engines without `logits`). */
  fetchRow?: (position: number) => Promise<Float32Array>;
  /** Set when the engine's numbers are knowingly approximate (a fast setting). */
  approximate?: string;
  /** For rows that hold only some tokens (a server's top candidates): the token id of each row entry. */
  rowIds?: (position: number) => ArrayLike<number>;
  /** How a row becomes the distribution under sampling controls (default: softmax over the row). */
  distribute?: typeof controlledDistribution;
  vocabSize: number;
  window: AnalysisWindow;
  attention: AttentionData | null;
  /** Layers the forward pass already fetched (the first one the panel shows). */
  attentionLayers?: { layer: number; value: AttentionLayer }[];
  /** One forward pass over the same tokens fetching these layers' attention. */
  fetchAttention?: (layers: number[]) => Promise<AttentionLayer[]>;
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
  /**
   * 'next' (a causal model): row t is the distribution of the token after t. 'masked' (masked.ts): row t is
   * the distribution at t with token t masked, and `scored` says which tokens have a pseudo-log-likelihood.
   */
  objective?: 'next' | 'masked';
  scored?: boolean[];
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
  readonly approximate?: string;
  readonly objective: 'next' | 'masked';
  private logits?: Float32Array;
  private reloading?: Promise<Float32Array>;
  private readonly top: TopRows;
  private readonly logSumExps: Float64Array;
  private readonly decode: (id: number) => string;
  private readonly memory: MemoryBudget;
  private readonly recompute: () => Promise<Float32Array>;
  private readonly fetchRow?: (position: number) => Promise<Float32Array>;
  private readonly rowIds?: (position: number) => ArrayLike<number>;
  private readonly distribute: typeof controlledDistribution;
  private readonly attentionStore?: AttentionStore;

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
    this.fetchRow = input.fetchRow;
    this.rowIds = input.rowIds;
    this.distribute = input.distribute ?? controlledDistribution;
    this.approximate = input.approximate;
    if (input.attention && input.fetchAttention) {
      const [first] = input.attentionLayers ?? [];
      this.attentionStore = new AttentionStore(input.attention, input.fetchAttention, input.memory, first);
    }
    const n = input.tokens.length;
    const V = input.vocabSize;
    this.objective = input.objective ?? 'next';
    const masked = this.objective === 'masked';
    const targets = masked ? input.tokens.map((t, i) => (input.scored?.[i] ? t.id : -1)) : nextTargets(input.tokens.map((t) => t.id));
    const logits = input.logits;
    if (!logits && !(input.ranked && input.scores)) throw new Error('an analysis without logits needs its scores and ranks');
    const { ranks, top } = input.ranked ?? rankAndTop(logits!, V, targets);
    this.top = top;
    // The scoring head scores next tokens: a masked model's rows are scored here.
    const scores = masked ? null : input.scores;
    this.logSumExps = scores
      ? Float64Array.from(scores.logSumExp)
      : Float64Array.from({ length: n }, (_, t) => logSumExp(logits!.subarray(t * V, (t + 1) * V)));
    let total = 0;
    let counted = 0;
    this.tokens = input.tokens.map((token, t) => {
      const row = masked ? (targets[t] >= 0 ? t : -1) : t - 1;
      if (row < 0) return { ...token, prob: null, rank: null, loss: null };
      const loss = scores ? -scores.targetLogprob[row] : this.logSumExps[row] - logits![row * V + token.id];
      total += loss;
      counted++;
      return { ...token, prob: Math.exp(-loss), rank: ranks[row], loss };
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

  /** Bytes this analysis keeps for as long as it lives: scores and best candidates. (Attention and logits are
   *  held in the memory budget apart, and let go when it needs room.) */
  get pinnedBytes(): number {
    return this.tokens.length * TOKEN_BYTES + this.logSumExps.byteLength + this.top.ids.byteLength + this.top.logits.byteLength;
  }

  /** One layer's attention (every head, and the grid of all heads): kept, or fetched with one forward pass. */
  attentionLayer(layer: number): Promise<AttentionLayer> {
    return this.attentionNow().layer(layer);
  }

  /** Several layers' attention; those not kept are fetched together, in one forward pass. */
  attentionLayers(layers: number[]): Promise<AttentionLayer[]> {
    return this.attentionNow().layers(layers);
  }

  /** Bytes of attention kept now, and which layers. */
  get attentionKept(): { bytes: number; layers: number[] } {
    return { bytes: this.attentionStore?.keptBytes ?? 0, layers: this.attentionStore?.keptLayers ?? [] };
  }

  /** Lets the attention kept go (fetched again when asked for): the view that showed it closed. */
  releaseAttention(): void {
    this.attentionStore?.clear();
  }

  private attentionNow(): AttentionStore {
    if (!this.attentionStore) throw new Error(this.attentionNote ?? 'This analysis was made without attention.');
    return this.attentionStore;
  }

  /**
   * The row whose distribution scored token i, for `topK`, `distribution` and `row`: the one before it for a
   * causal model, its own for a masked one; null when none did (the first token of a causal model).
   */
  rowScoring(i: number): number | null {
    const row = this.objective === 'masked' ? i : i - 1;
    return row >= 0 && row < this.tokens.length ? row : null;
  }

  /** Whether the full logits are in memory now (false once the memory budget let them go). */
  get hasLogits(): boolean {
    return this.logits !== undefined;
  }

  /** Logits of the distribution after tokens[position]; runs the model again if they were let go. */
  async row(position: number): Promise<Float32Array> {
    this.checkPosition(position);
    if (this.fetchRow && !this.logits) return this.fetchRow(position);
    const logits = this.logits ?? await this.reload();
    this.memory.touch(this);
    return logits.subarray(position * this.vocabSize, (position + 1) * this.vocabSize);
  }

  /**
   * The k (at most 100) most likely tokens of row `position`, with softmax probabilities: the next tokens after
   * tokens[position] for a causal model, the fill-ins of tokens[position] for a masked one.
   */
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
    const { tokens, kept } = this.distribute(await this.row(position), controls, k);
    const ids = this.rowIds?.(position);
    const out: Candidate[] & { kept?: number } = tokens.map((t) => {
      const id = ids ? ids[t.id] : t.id;
      return { id, text: this.decode(id), prob: t.prob, logit: t.logit };
    });
    out.kept = kept;
    return out;
  }

  /** Index of the token whose span covers a UTF-16 offset of the text; the last one starting before it otherwise. */
  tokenIndexAt(offset: number): number {
    return tokenIndexAt(this.tokens, offset);
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
