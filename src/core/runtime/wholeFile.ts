// Whole-file analysis past the context window, by the standard strided-perplexity method: windows of the
// context's size start every half context, and each window scores only the tokens past the previous
// window's end. Every token is then scored once, in the first window that holds it (where it has the
// most context), and every token after the first window has at least half a context before it.
// A model that starts its texts with BOS gets BOS at the head of every window, as in its training.
import { tokenIndexAt } from '../tokenizers/offsets';
import type { AnalysisWindow, Candidate, ScoredToken, Token } from '../types';
import type { Analysis } from './analysis';
import { AnalysisError, throwIfAborted } from './analysisErrors';

/** One window, in indices of the text's tokens (BOS not counted): it holds [first, end), scores [scoredFrom, end). */
export interface WindowPlan {
  first: number;
  scoredFrom: number;
  end: number;
}

/** The windows over `count` tokens with room for `size` tokens each, every `size / 2` tokens. */
export function stridedWindows(count: number, size: number): WindowPlan[] {
  if (!Number.isInteger(size) || size < 2) throw new RangeError(`a window needs room for 2 tokens at least, not ${size}`);
  const stride = Math.floor(size / 2);
  const plans: WindowPlan[] = [];
  let scoredFrom = 0;
  for (let first = 0; ; first += stride) {
    const end = Math.min(first + size, count);
    plans.push({ first, scoredFrom, end });
    if (end >= count) return plans;
    scoredFrom = end;
  }
}

export interface WindowOptions {
  /** After each window: how many are done, of how many. */
  onProgress?: (done: number, total: number) => void;
  /** An analysis of an earlier version of the text: its windows that did not change are taken as they are. */
  previous?: WholeFileAnalysis;
}

export interface WholeFileOptions extends WindowOptions {
  signal?: AbortSignal;
  /** Tokens per window, BOS included (default and maximum: the context window). */
  windowTokens?: number;
  /** Keep and continue KV caches (AnalyzeOptions.incremental): a window that changed only at its end runs from there. */
  incremental?: boolean;
}

/** What a whole-file analysis needs of a model. */
export interface WindowedModel {
  contextLength: number;
  /** Every token of a text, leading specials first. */
  tokenizeAll(text: string): Promise<Token[]>;
  /** One window's analysis (BOS, then the window's tokens). */
  analyzeWindow(tokens: Token[], window: AnalysisWindow): Promise<Analysis>;
}

/** The whole of a text, however long, in windows of at most the model's context (analyzeInWindows). */
export async function analyzeWholeText(text: string, opts: WholeFileOptions, model: WindowedModel): Promise<WholeFileAnalysis> {
  throwIfAborted(opts.signal);
  if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
  const all = await model.tokenizeAll(text);
  throwIfAborted(opts.signal);
  if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
  const size = Math.min(opts.windowTokens ?? Infinity, model.contextLength);
  return analyzeInWindows(text, all, size, opts, (tokens, window) => model.analyzeWindow(tokens, window));
}

/**
 * Analyses `all` (the text's tokens, leading specials first) in strided windows of `size` tokens, one after
 * the other through `analyze` (BOS, then the window's tokens).
 */
export async function analyzeInWindows(text: string, all: Token[], size: number, opts: WindowOptions,
  analyze: (tokens: Token[], window: AnalysisWindow) => Promise<Analysis>): Promise<WholeFileAnalysis> {
  const lead = all[0]?.special && all[0].start === all[0].end ? 1 : 0;
  const body = all.slice(lead);
  const plans = stridedWindows(body.length, size - lead);
  const windows: WindowAnalysis[] = [];
  for (const plan of plans) {
    const tokens = [...all.slice(0, lead), ...body.slice(plan.first, plan.end)];
    const window: AnalysisWindow = {
      firstToken: lead + plan.first, totalTokens: all.length, counted: true,
      start: body[plan.first].start, end: body[plan.end - 1].end, truncated: plans.length > 1,
    };
    // A window of an earlier analysis with the same tokens at the same places has the same scores.
    const same = opts.previous?.windows.find((w) => w.first === plan.first && w.end === plan.end && sameTokens(w.analysis.tokens, tokens));
    windows.push({ analysis: same?.analysis ?? await analyze(tokens, window), ...plan, lead });
    opts.onProgress?.(windows.length, plans.length);
  }
  return new WholeFileAnalysis(text, all.slice(0, lead), windows);
}

function sameTokens(a: readonly Token[], b: readonly Token[]): boolean {
  return a.length === b.length && a.every((t, i) => t.id === b[i].id && t.start === b[i].start && t.end === b[i].end);
}

/** A window's analysis: its tokens are the leading specials (`lead` of them), then text tokens [first, end). */
export interface WindowAnalysis extends WindowPlan {
  analysis: Analysis;
  lead: number;
}

/** The whole text's tokens, each with its score from the window that scores it. */
export class WholeFileAnalysis {
  /** Leading specials (BOS, unscored), then every token of the text. */
  readonly tokens: ScoredToken[];
  readonly meanLoss: number;
  readonly perplexity: number;
  readonly vocabSize: number;

  constructor(readonly text: string, leading: Token[],
    readonly windows: WindowAnalysis[]) {
    this.vocabSize = windows[0].analysis.vocabSize;
    this.tokens = leading.map((t) => ({ ...t, prob: null, rank: null, loss: null }));
    let total = 0;
    let counted = 0;
    for (const w of windows) {
      for (let i = w.scoredFrom; i < w.end; i++) {
        const token = w.analysis.tokens[w.lead + i - w.first];
        this.tokens.push(token);
        if (token.loss !== null) {
          total += token.loss;
          counted++;
        }
      }
    }
    this.meanLoss = counted ? total / counted : NaN;
    this.perplexity = Math.exp(this.meanLoss);
  }

  /** The whole text: an AnalysisWindow that covers everything. */
  get window(): AnalysisWindow {
    return { firstToken: 0, totalTokens: this.tokens.length, counted: true, start: 0, end: this.text.length, truncated: false };
  }

  /** How many leading specials (BOS) `tokens` starts with. */
  get lead(): number {
    return this.windows[0].lead;
  }

  /**
   * The window whose row `position` (the distribution after tokens[position]) is the one that scored
   * tokens[position + 1], and the row's index in that window's analysis.
   */
  rowAt(position: number): { window: WindowAnalysis; row: number } {
    if (!Number.isInteger(position) || position < 0 || position >= this.tokens.length) {
      throw new RangeError(`position ${position} is outside 0..${this.tokens.length - 1}`);
    }
    const next = Math.min(position + 1, this.tokens.length - 1) - this.lead;
    const window = this.windows.find((w) => next < w.end) ?? this.windows[this.windows.length - 1];
    return { window, row: position < this.lead ? position : window.lead + position - this.lead - window.first };
  }

  /** Next-token predictions only: a whole-file analysis is of a causal model. */
  readonly objective = 'next' as const;

  /** The row whose distribution scored token i (the one before it); null for the first token. */
  rowScoring(i: number): number | null {
    return i > 0 && i < this.tokens.length ? i - 1 : null;
  }

  /** The k (at most 100) most likely next tokens after tokens[position]. */
  topK(position: number, k: number): Candidate[] {
    const { window, row } = this.rowAt(position);
    return window.analysis.topK(row, k);
  }

  /** Index of the token whose span covers a UTF-16 offset of the text; the last one starting before it otherwise. */
  tokenIndexAt(offset: number): number {
    return tokenIndexAt(this.tokens, offset);
  }
}
