// The result of one forward pass over a text: tokens with their scores, and everything needed to
// answer later questions (another position's distribution, other sampling controls, attention)
// without running the model again.
import { controlledDistribution, logSumExp, rankOf, scoreRow, topIndices } from '../analysis/distribution';
import type { AnalysisWindow, AttentionData, Candidate, SamplingControls, ScoredToken, Token } from '../types';

export interface AnalysisInput {
  modelId: string;
  text: string;
  tokens: Token[];
  /** Row-major [tokens.length, vocabSize] logits: row t is the distribution after token t. */
  logits: Float32Array;
  vocabSize: number;
  window: AnalysisWindow;
  attention: AttentionData | null;
  attentionNote?: string;
  decode: (id: number) => string;
  /** Computed inside the graph (the scoring head): log p of each actual next token, and log Z per row. */
  scores?: { targetLogprob: Float32Array; logSumExp: Float32Array } | null;
}

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
  private readonly logits: Float32Array;
  private readonly logSumExps: Float64Array;
  private readonly decode: (id: number) => string;

  constructor(input: AnalysisInput) {
    this.modelId = input.modelId;
    this.text = input.text;
    this.window = input.window;
    this.vocabSize = input.vocabSize;
    this.attention = input.attention;
    this.attentionNote = input.attentionNote;
    this.logits = input.logits;
    this.decode = input.decode;
    const n = input.tokens.length;
    this.logSumExps = new Float64Array(n).fill(NaN);
    let total = 0;
    let counted = 0;
    const scores = input.scores;
    if (scores) this.logSumExps.set(scores.logSumExp);
    this.tokens = input.tokens.map((token, t) => {
      if (t === 0) return { ...token, prob: null, rank: null, loss: null };
      const row = this.row(t - 1);
      const s = scores
        ? { loss: -scores.targetLogprob[t - 1], rank: rankOf(row, token.id) }
        : scoreRow(row, token.id);
      if (!scores) this.logSumExps[t - 1] = (s as { logSumExp: number }).logSumExp;
      total += s.loss;
      counted++;
      return { ...token, prob: Math.exp(-s.loss), rank: s.rank, loss: s.loss };
    });
    this.meanLoss = counted ? total / counted : NaN;
    this.perplexity = Math.exp(this.meanLoss);
  }

  get byteSize(): number {
    const att = this.attention ? this.attention.layers * this.attention.heads * this.attention.size ** 2 * 4 : 0;
    return this.logits.byteLength + att;
  }

  /** Logits of the distribution after tokens[position] (a view, not a copy). */
  row(position: number): Float32Array {
    this.checkPosition(position);
    return this.logits.subarray(position * this.vocabSize, (position + 1) * this.vocabSize);
  }

  /** The k most likely next tokens after tokens[position], with softmax probabilities. */
  topK(position: number, k: number): Candidate[] {
    const row = this.row(position);
    const lse = this.lseAt(position);
    return topIndices(row, k).map((id) => ({ id, text: this.decode(id), prob: Math.exp(row[id] - lse), logit: row[id] }));
  }

  /** The next-token distribution after tokens[position] under sampling controls, renormalised exactly. */
  distribution(position: number, controls: SamplingControls, k: number): Candidate[] & { kept?: number } {
    const { tokens, kept } = controlledDistribution(this.row(position), controls, k);
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

  private lseAt(position: number): number {
    let v = this.logSumExps[position];
    if (Number.isNaN(v)) v = this.logSumExps[position] = logSumExp(this.row(position));
    return v;
  }

  private checkPosition(position: number): void {
    const count = this.logits.length / this.vocabSize;
    if (!Number.isInteger(position) || position < 0 || position >= count) {
      throw new RangeError(`position ${position} is outside 0..${count - 1}`);
    }
  }
}
