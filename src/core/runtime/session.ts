// A loaded model (openModel.ts): the tokenizer, an onnxruntime session in a worker thread, and a cache of
// recent analyses. Passes run one at a time (analysisPasses.ts); a text longer than the context is analysed
// in windows (wholeFile.ts); generation has its own model (generator.ts).
import type { LoadProgress, ModelInfo, Token } from '../types';
import type { Analysis } from './analysis';
import { AnalysisError, throwIfAborted } from './analysisErrors';
import { AnalysisPasses } from './analysisPasses';
import { AnalysisCache, DEFAULT_MEMORY_BUDGET_MB, MemoryBudget } from './cache';
import type { RawTensor } from './forward';
import { Generator } from './generator';
import { type LoadOptions, type OpenedModel, openModel } from './openModel';
import { tailTokens } from './tail';
import { TextTokenizer } from './textTokenizer';
import { analysisWindow } from './window';
import { analyzeWholeText, type WholeFileAnalysis, type WholeFileOptions } from './wholeFile';
import type { AnalyzeOptions, Capability, Engine } from '../engines/engine';

/** Texts up to this long are tokenized on the caller's thread (a few milliseconds at most). */
const HOST_TOKENIZE_CHARS = 4096;

/** The onnxruntime engine: the one with every capability (a foreign export may lack attention or hidden states). */
export class ModelSession implements Engine {
  readonly kind = 'onnx' as const;
  readonly ref: string;
  readonly folder: string;
  readonly info: ModelInfo;
  /** Bounds what analyses keep; shared by every analysis of this model. */
  readonly memory: MemoryBudget;
  readonly missing: Partial<Record<Capability, string>>;
  /** The graph's residual-stream outputs `hidden_states.{i}` in layer order; empty when the export has none. */
  readonly hiddenStateNames: string[];
  /** The decoder file of the model folder in use (e.g. onnx/model_quantized.onnx). */
  variant: string;
  private readonly cache: AnalysisCache;
  private readonly textTokenizer: TextTokenizer;
  private readonly passes: AnalysisPasses;
  private readonly generator: Generator;

  private constructor(private readonly opened: OpenedModel, threads?: number,
    memoryBudgetBytes = DEFAULT_MEMORY_BUDGET_MB * 2 ** 20) {
    this.ref = opened.ref;
    this.folder = opened.folder;
    this.info = opened.info;
    this.hiddenStateNames = opened.hiddenStateNames;
    this.variant = opened.variant;
    this.memory = new MemoryBudget(memoryBudgetBytes);
    this.cache = new AnalysisCache(8, () => this.memory.budgetBytes);
    this.missing = {
      ...(this.info.attentionNote && this.info.attention === 'unavailable' ? { attention: this.info.attentionNote } : {}),
      ...(this.hiddenStateNames.length ? {} : { hiddenStates: 'this export does not output per-layer hidden states' }),
    };
    this.textTokenizer = new TextTokenizer(opened.tokenizer as unknown as { encode(text: string): number[] }, opened.vocab);
    this.passes = new AnalysisPasses(opened, this.memory);
    this.generator = new Generator(opened, this.textTokenizer, threads);
  }

  static async load(ref: string, opts: LoadOptions): Promise<ModelSession> {
    return new ModelSession(await openModel(ref, opts), opts.threads, opts.memoryBudgetBytes);
  }

  /** How many forward passes the model ran (analyses and recomputed logits). */
  get forwardCount(): number {
    return this.passes.forwardCount;
  }

  /** How many tokens the last incremental analysis took from a kept cache (0: it ran the model on all of them). */
  get lastReusedTokens(): number {
    return this.passes.lastReusedTokens;
  }

  /** Token ids of a text as the model sees it (BOS included when the tokenizer adds one). */
  encode(text: string): number[] {
    return this.textTokenizer.encode(text);
  }

  /** Tokens of a text with their UTF-16 offsets (on the caller's thread: analyses tokenize in the worker). */
  tokenize(text: string): Token[] {
    return this.textTokenizer.tokenize(text);
  }

  /** Analyses a text: one forward pass, cached per (text, window, attention). */
  analyze(text: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
    const limit = Math.max(2, Math.min(opts.maxTokens ?? Infinity, this.info.contextLength));
    const preceding = Math.max(0, opts.precedingChars ?? 0);
    const cached = opts.fresh ? undefined : this.cache.get(text, limit, !!opts.attention, preceding);
    if (cached) return Promise.resolve(cached);
    return this.passes.enqueue(() => this.analyzeNow(text, limit, !!opts.attention, preceding, opts.signal, opts.fresh, !!opts.incremental,
      opts.logits !== false));
  }

  private async analyzeNow(text: string, limit: number, wantAttention: boolean, preceding: number, signal?: AbortSignal,
    fresh = false, incremental = false, logits = true): Promise<Analysis> {
    // Checked when this request's turn comes: a request superseded while it waited never runs the model.
    throwIfAborted(signal);
    const cached = fresh ? undefined : this.cache.get(text, limit, wantAttention, preceding);
    if (cached) return cached;
    if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
    // Only the end of a long text is tokenized (the model sees at most `limit` tokens). It takes about a
    // millisecond per thousand characters: a short text here, a long one's end in the worker thread, off the
    // editor's thread (a round trip to the worker costs more than a short text's tokens).
    const tail = text.length <= HOST_TOKENIZE_CHARS
      ? await tailTokens(text, limit, (s) => this.textTokenizer.tokenize(s), preceding > 0)
      : await this.opened.thread.tail(text, limit, preceding > 0);
    throwIfAborted(signal);
    const all = tail.tokens;
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const { lead } = tail;
    const first = all.length > limit ? all.length - (limit - lead) : lead;
    const tokens = all.length > limit ? [...all.slice(0, lead), ...all.slice(first)] : all;
    const window = analysisWindow(text, tail, tokens, preceding);
    // Attention is fetched a layer at a time: the first one now (the panel shows it first), the others when asked for.
    const attentionNames = this.opened.attentionNames;
    const names = wantAttention && attentionNames.length ? attentionNames.slice(0, 1) : null;
    const analysis = await this.passes.passOver(text, tokens, window, names, { incremental, fresh, logits, signal, attention: wantAttention });
    this.cache.set(text, limit, wantAttention, analysis, preceding);
    return analysis;
  }

  /**
   * The whole of a text, however long, in strided windows (see wholeFile.ts): each token is scored once,
   * in the window where it has the most context. One window at a time, queued with other analyses so that
   * a hover is answered between two windows; `signal` stops between windows.
   */
  analyzeWholeFile(text: string, opts: WholeFileOptions = {}): Promise<WholeFileAnalysis> {
    return analyzeWholeText(text, opts, {
      contextLength: this.info.contextLength,
      // Tokenized in the worker thread: a long text takes far too long for the editor's thread.
      tokenizeAll: async (whole) => (await this.opened.thread.tail(whole, Number.MAX_SAFE_INTEGER, false)).tokens,
      analyzeWindow: (tokens, window) => this.passes.enqueue(async () => {
        throwIfAborted(opts.signal);
        // Scores, ranks and candidates only: a window's logits stay in the worker (recomputed if a row is asked for).
        return this.passes.passOver(text, tokens, window, null, { incremental: opts.incremental, logits: false });
      }),
    });
  }

  /**
   * One forward pass over a batch of token sequences of equal length (no cache), fetching the named outputs.
   * Queued with the analyses: one pass at a time.
   */
  run(rows: number[][], outputs: string[], signal?: AbortSignal): Promise<Record<string, RawTensor>> {
    return this.passes.run(rows, outputs, signal);
  }

  /** A token's text as analyses show it (`Candidate.text`). */
  tokenText(id: number): string {
    return this.opened.vocab.pieceText(id);
  }

  /** Every id whose text (as `tokenText` shows it) is exactly `text`. */
  idsOfText(text: string): number[] {
    const ids: number[] = [];
    for (let id = 0; id < this.info.vocabSize; id++) if (this.opened.vocab.pieceText(id) === text) ids.push(id);
    return ids;
  }

  /** Continues a prompt (empty: from BOS) and returns only the new text. */
  generate(prompt: string, opts: { maxNewTokens?: number; greedy?: boolean; temperature?: number } = {}): Promise<string> {
    return this.generator.generate(prompt, opts);
  }

  async dispose(): Promise<void> {
    this.passes.clear();
    this.cache.clear();
    this.memory.clear();
    await this.opened.thread.dispose();
    await this.generator.dispose();
  }
}

export { AnalysisCancelled, AnalysisError } from './analysisErrors';
export type { AnalyzeOptions } from '../engines/engine';
export { inferenceSessionOptions, type LoadOptions } from './openModel';
export type { WholeFileOptions } from './wholeFile';
export type { LoadProgress };
