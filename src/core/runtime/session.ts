// A loaded model: the tokenizer (transformers.js) and an onnxruntime session in a worker thread, with an
// analysis cache.
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { tokenBytes, tokenOffsets } from '../tokenizers/offsets';
import type { AnalysisWindow, AttentionData, LoadProgress, ModelInfo, Token } from '../types';
import { Analysis, type AnalysisInput } from './analysis';
import { AnalysisCache, DEFAULT_MEMORY_BUDGET_MB, MemoryBudget } from './cache';
import { canContinue, type CacheShape, type ForwardResult, type RawTensor } from './forward';
import { ForwardThread, type KvRequest } from './forwardThread';
import { joinRows, KeptCaches, type Plan } from './keptCaches';
import { hasScoringHead } from '../onnx/scoringHead';
import { FetchOptions, ModelLoadError, readModelJson, resolveModelFolder } from './modelFiles';
import { prepareModelFolder } from './prepare';
import { attentionOutputNames } from './surgery';
import { transformers, withTransformersEnv } from './transformers';
import { tailTokens } from './tail';
import { analysisWindow } from './window';
import { analyzeInWindows, type WholeFileAnalysis, type WindowOptions } from './wholeFile';
import { Vocabulary } from './vocabulary';

export interface LoadOptions extends FetchOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** What analyses may keep in memory (logits, attention, scores); default 300 MB. */
  memoryBudgetBytes?: number;
}

export interface AnalyzeOptions {
  attention?: boolean;
  /** Analyse at most this many tokens (the last ones); default and maximum: the context window. */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Run the model even when the cache has this analysis (benchmarks). */
  fresh?: boolean;
  /**
   * The text is the end of a longer one, of which this many characters were left out before it: its
   * first tokens may be cut words and are not analysed, and token counts include an estimate for them.
   */
  precedingChars?: number;
  /**
   * Keep this analysis's KV cache in the worker, and continue a kept one when the text begins with the same
   * tokens: after an edit, the model runs only from the first token that changed (see keptCaches.ts).
   * Ignored with attention, and for exports without a KV cache or a scoring head.
   */
  incremental?: boolean;
  /**
   * Bring the full [T, V] logits out of the model and keep them while the memory budget has room (default
   * true): what sampling controls and candidates past the 100th need. Without them an analysis has every
   * score, rank and the 100 best candidates of each position, and recomputes a full row when asked for one.
   */
  logits?: boolean;
}

export interface WholeFileOptions extends WindowOptions {
  signal?: AbortSignal;
  /** Tokens per window, BOS included (default and maximum: the context window). */
  windowTokens?: number;
  /** Keep and continue KV caches (AnalyzeOptions.incremental): a window that changed only at its end runs from there. */
  incremental?: boolean;
}

export class AnalysisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisError';
  }
}

type Tokenizer = Awaited<ReturnType<Awaited<ReturnType<typeof transformers>>['AutoTokenizer']['from_pretrained']>>;
type Model = Awaited<ReturnType<Awaited<ReturnType<typeof transformers>>['AutoModelForCausalLM']['from_pretrained']>>;

export class ModelSession {
  /** Bounds what analyses keep; shared by every analysis of this model. */
  readonly memory: MemoryBudget;
  private readonly cache: AnalysisCache;
  private queue: Promise<unknown> = Promise.resolve();
  private forwardsRun = 0;
  private generator?: Promise<Model>;

  private constructor(
    readonly ref: string,
    readonly folder: string,
    readonly info: ModelInfo,
    private readonly tokenizer: Tokenizer,
    private readonly thread: ForwardThread,
    private readonly vocab: Vocabulary,
    private readonly cacheShape: CacheShape,
    private readonly attentionNames: string[],
    private readonly threads?: number,
    memoryBudgetBytes = DEFAULT_MEMORY_BUDGET_MB * 2 ** 20,
  ) {
    this.memory = new MemoryBudget(memoryBudgetBytes);
    this.cache = new AnalysisCache(8, () => this.memory.budgetBytes);
    this.hiddenStateNames = hiddenStateOutputNames(thread.outputNames);
    const pastInputs = thread.inputNames.filter((n) => n.startsWith('past_key_values.')).length;
    this.kept = canContinue(thread.inputNames, thread.outputNames) && hasScoringHead(thread.outputNames)
      ? new KeptCaches(thread, this.memory, pastInputs * cacheShape.kvHeads * cacheShape.headDim * 4)
      : undefined;
  }

  /** KV caches of recent incremental analyses; undefined when the export cannot continue a pass. */
  private readonly kept?: KeptCaches;

  /** The graph's residual-stream outputs `hidden_states.{i}` in layer order; empty when the export has none. */
  readonly hiddenStateNames: string[];

  /** How many forward passes the model ran (analyses and recomputed logits). */
  get forwardCount(): number {
    return this.forwardsRun;
  }

  static async load(ref: string, opts: LoadOptions): Promise<ModelSession> {
    const source = await resolveModelFolder(ref, opts);
    throwIfAborted(opts.signal);
    const prepared = await prepareModelFolder(source, opts.cacheDir, opts.onProgress);
    opts.onProgress?.({ status: 'prepare', message: 'Starting onnxruntime…' });
    const { AutoTokenizer, env } = await transformers();
    let tokenizer: Tokenizer;
    let thread: ForwardThread;
    try {
      // A download elsewhere sets env.allowLocalModels = false while it runs: load in turn with it.
      tokenizer = await withTransformersEnv(opts.signal, () => new AnalysisCancelled(), async () => {
        env.allowLocalModels = true;
        return AutoTokenizer.from_pretrained(prepared.folder, { local_files_only: true });
      });
      // The forward pass runs in its own thread; transformers.js's model is loaded only to generate.
      thread = await ForwardThread.open(path.join(prepared.folder, 'onnx', 'model.onnx'), inferenceSessionOptions(opts.threads));
    } catch (e) {
      if (e instanceof AnalysisCancelled) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new ModelLoadError(`Could not load the model in ${source}: ${firstLine(reason)}`, reason);
    }
    const config = readModelJson(prepared.folder, 'config.json');
    const tokenizerJson = readModelJson(prepared.folder, 'tokenizer.json');
    const attentionNames = attentionOutputNames(thread.outputNames);
    const heads = config.num_attention_heads ?? config.n_head ?? 0;
    const hidden = config.hidden_size ?? config.n_embd ?? 0;
    const cacheShape = {
      kvHeads: config.num_key_value_heads ?? heads,
      headDim: config.head_dim ?? (heads ? hidden / heads : 0),
    };
    const vocab = new Vocabulary(tokenizerJson, tokenBytes(tokenizerJson));
    const info: ModelInfo = {
      id: ref,
      arch: config.token_lens?.config?.arch ?? config.model_type ?? 'unknown',
      vocabSize: config.vocab_size ?? vocab.size,
      contextLength: config.max_position_embeddings ?? config.n_positions ?? config.n_ctx ?? 2048,
      layers: config.num_hidden_layers ?? config.n_layer ?? attentionNames.length,
      heads,
      attention: attentionNames.length ? 'available' : 'unavailable',
      attentionNote: attentionNames.length ? undefined : prepared.attentionNote ?? 'attention not available for this model export',
    };
    opts.onProgress?.({ status: 'ready' });
    return new ModelSession(ref, prepared.folder, info, tokenizer, thread, vocab, cacheShape, attentionNames, opts.threads, opts.memoryBudgetBytes);
  }

  /** Token ids of a text as the model sees it (BOS included when the tokenizer adds one). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text) as number[];
  }

  /** Tokens of a text with their UTF-16 offsets. */
  tokenize(text: string): Token[] {
    return tokenOffsets(text, this.encode(text), this.vocab.bytes, {
      specialIds: this.vocab.specialIds,
      pieceText: (id) => this.vocab.pieceText(id),
    });
  }

  /** Analyses a text: one forward pass, cached per (text, window, attention). */
  analyze(text: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
    const limit = Math.max(2, Math.min(opts.maxTokens ?? Infinity, this.info.contextLength));
    const preceding = Math.max(0, opts.precedingChars ?? 0);
    const cached = opts.fresh ? undefined : this.cache.get(text, limit, !!opts.attention, preceding);
    if (cached) return Promise.resolve(cached);
    return this.enqueue(() => this.analyzeNow(text, limit, !!opts.attention, preceding, opts.signal, opts.fresh, !!opts.incremental,
      opts.logits !== false));
  }

  /**
   * One forward pass at a time: onnxruntime already uses every core. Each turn starts after one round of
   * the event loop, so that an abort arriving meanwhile is seen before the model runs.
   */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => new Promise((resolve) => setImmediate(resolve))).then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private forward(ids: number[], attentionNames: string[] | null, kv?: KvRequest, logits = true) {
    this.forwardsRun++;
    return this.thread.run(ids, this.cacheShape, attentionNames, kv, logits);
  }

  /** How many tokens the last incremental analysis took from a kept cache (0: it ran the model on all of them). */
  lastReusedTokens = 0;

  private async analyzeNow(text: string, limit: number, wantAttention: boolean, preceding: number, signal?: AbortSignal,
    fresh = false, incremental = false, logits = true): Promise<Analysis> {
    // Checked when this request's turn comes: a request superseded while it waited never runs the model.
    throwIfAborted(signal);
    const cached = fresh ? undefined : this.cache.get(text, limit, wantAttention, preceding);
    if (cached) return cached;
    if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
    // Only the end of a long text is tokenized: the model sees at most `limit` tokens.
    const tail = await tailTokens(text, limit, (s) => this.tokenize(s), preceding > 0);
    throwIfAborted(signal);
    const all = tail.tokens;
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const { lead } = tail;
    const first = all.length > limit ? all.length - (limit - lead) : lead;
    const tokens = all.length > limit ? [...all.slice(0, lead), ...all.slice(first)] : all;
    const window = analysisWindow(text, tail, tokens, preceding);
    const names = wantAttention && this.attentionNames.length ? this.attentionNames : null;
    const analysis = await this.passOver(text, tokens, window, names, { incremental, fresh, logits });
    this.cache.set(text, limit, wantAttention, analysis, preceding);
    return analysis;
  }

  /**
   * One pass over `tokens`. `incremental`: continue the kept KV cache that shares the longest prefix with
   * them (`fresh`: none) and keep this one (keptCaches.ts). `logits: false`: leave the [T, V] logits in the
   * worker (scores, ranks and candidates only; a full row is recomputed when asked for).
   */
  private async passOver(text: string, tokens: Token[], window: AnalysisWindow, names: string[] | null,
    opts: { incremental?: boolean; fresh?: boolean; logits?: boolean }): Promise<Analysis> {
    const ids = tokens.map((t) => t.id);
    const plan: Plan | undefined = opts.incremental && !names && this.kept ? this.kept.plan(opts.fresh ? [] : ids) : undefined;
    // Once the model ran, the result is kept (and cached) even if its caller gave up meanwhile.
    let analysis: Analysis;
    try {
      // An incremental analysis serves typing (scores, ranks, candidates): its logits stay in the worker.
      let result = await this.forward(plan ? ids.slice(plan.reused) : ids, names, plan?.request, opts.logits !== false && !plan);
      this.lastReusedTokens = plan?.reused ?? 0;
      if (plan?.source) {
        const joined = joinRows(plan.source.leadingRows(plan.reused), { ...result, ranked: result.ranked!, scores: result.scores! });
        result = { ...result, logits: undefined, scores: joined.scores, ranked: { ranks: joined.ranks, top: joined.top } };
      }
      analysis = this.analysisOf(text, tokens, window, result, !!names);
    } catch (e) {
      if (plan) this.kept!.abandon(plan);
      throw e;
    }
    if (plan) this.kept!.add(plan, ids, analysis);
    return analysis;
  }

  /** The analysis of one pass over `tokens`; refuses non-finite scores (corrupt weights). */
  private analysisOf(text: string, tokens: Token[], window: AnalysisWindow, result: ForwardResult, wantAttention: boolean): Analysis {
    const T = tokens.length;
    const attention: AttentionData | null = result.attentions ? {
      layers: result.attentions.length,
      heads: result.heads,
      size: T,
      weights: result.attentions.map((layer) =>
        Array.from({ length: result.heads }, (_, h) => layer.subarray(h * T * T, (h + 1) * T * T))),
    } : null;
    const analysis = new Analysis({
      modelId: this.ref,
      text,
      tokens,
      logits: result.logits,
      vocabSize: result.vocabSize,
      window,
      attention,
      attentionNote: wantAttention && !attention ? this.info.attentionNote : undefined,
      scores: result.scores,
      ranked: result.ranked,
      memory: this.memory,
      // Made outside this scope: a closure made here would keep `result`, and with it the logits, alive.
      ...this.analysisLinks(tokens.map((t) => t.id)),
    });
    if (analysis.tokens.some((t) => t.loss !== null && !Number.isFinite(t.loss))) {
      this.memory.release(analysis);
      throw new AnalysisError('The model produced NaN or infinite logits for this text; its weights may be corrupt.');
    }
    return analysis;
  }

  /**
   * The whole of a text, however long, in strided windows (see wholeFile.ts): each token is scored once,
   * in the window where it has the most context. One window at a time, queued with other analyses so that
   * a hover is answered between two windows; `signal` stops between windows.
   */
  async analyzeWholeFile(text: string, opts: WholeFileOptions = {}): Promise<WholeFileAnalysis> {
    throwIfAborted(opts.signal);
    if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
    const all = this.tokenize(text);
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const size = Math.min(opts.windowTokens ?? Infinity, this.info.contextLength);
    return analyzeInWindows(text, all, size, opts, (tokens, window) => this.enqueue(async () => {
      throwIfAborted(opts.signal);
      // Scores, ranks and candidates only: a window's logits stay in the worker (recomputed if a row is asked for).
      return this.passOver(text, tokens, window, null, { incremental: opts.incremental, logits: false });
    }));
  }

  /** What an analysis keeps of its session: how to name a token, and how to recompute its logits. */
  private analysisLinks(ids: number[]): Pick<AnalysisInput, 'decode' | 'recompute'> {
    return {
      decode: (id) => this.vocab.pieceText(id),
      recompute: () => this.enqueue(async () => (await this.forward(ids, null)).logits!),
    };
  }

  /**
   * One forward pass over a batch of token sequences of equal length (no cache), fetching the named outputs.
   * Queued with the analyses: one pass at a time.
   */
  run(rows: number[][], outputs: string[], signal?: AbortSignal): Promise<Record<string, RawTensor>> {
    return this.enqueue(async () => {
      throwIfAborted(signal);
      this.forwardsRun++;
      return this.thread.outputs(rows, this.cacheShape, outputs);
    });
  }

  /** A token's text as analyses show it (`Candidate.text`). */
  tokenText(id: number): string {
    return this.vocab.pieceText(id);
  }

  /** Every id whose text (as `tokenText` shows it) is exactly `text`. */
  idsOfText(text: string): number[] {
    const ids: number[] = [];
    for (let id = 0; id < this.info.vocabSize; id++) if (this.vocab.pieceText(id) === text) ids.push(id);
    return ids;
  }

  /** Continues a prompt (empty: from BOS) and returns only the new text. */
  async generate(prompt: string, opts: { maxNewTokens?: number; greedy?: boolean; temperature?: number } = {}): Promise<string> {
    const { Tensor } = await transformers();
    const model = await this.generatorModel();
    let ids = prompt.length ? this.encode(prompt) : [];
    if (!ids.length) {
      const bos = this.vocab.bosId;
      if (bos === undefined) throw new AnalysisError('This model has no BOS token: give a prompt to continue.');
      ids = [bos];
    }
    const room = this.info.contextLength - ids.length;
    if (room <= 0) throw new AnalysisError(`The prompt has ${ids.length} tokens: no room left in the ${this.info.contextLength}-token context.`);
    const maxNew = Math.min(opts.maxNewTokens ?? 256, room);
    const inputs = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const output = await model.generate({
      inputs,
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      max_new_tokens: maxNew,
      do_sample: !opts.greedy,
      temperature: opts.temperature ?? 1,
    } as never) as { tolist(): bigint[][] };
    const all = output.tolist()[0].map(Number);
    const before = this.tokenizer.decode(ids, { skip_special_tokens: true });
    const after = this.tokenizer.decode(all, { skip_special_tokens: true });
    return after.startsWith(before) ? after.slice(before.length) : after;
  }

  private generatorModel(): Promise<Model> {
    // Loaded in turn with downloads, which change transformers.js's global env while they run.
    return (this.generator ??= transformers().then(({ AutoModelForCausalLM, env }) =>
      withTransformersEnv(undefined, () => new AnalysisCancelled(), async () => {
        env.allowLocalModels = true;
        return AutoModelForCausalLM.from_pretrained(this.folder, {
          local_files_only: true,
          dtype: 'fp32',
          session_options: inferenceSessionOptions(this.threads),
        });
      })));
  }

  async dispose(): Promise<void> {
    this.kept?.clear();
    this.cache.clear();
    this.memory.clear();
    await this.thread.dispose();
    if (this.generator) await (await this.generator.catch(() => undefined))?.dispose();
  }
}

/**
 * onnxruntime options for analysis sessions. Threads do not spin while waiting: the extension host and
 * the editor share the machine, and on a busy machine spinning costs far more than it saves.
 */
export function inferenceSessionOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return {
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

const HIDDEN_STATE_OUTPUT = /^hidden_states\.(\d+)$/;

function hiddenStateOutputNames(outputNames: readonly string[]): string[] {
  return outputNames.filter((n) => HIDDEN_STATE_OUTPUT.test(n))
    .sort((a, b) => Number(HIDDEN_STATE_OUTPUT.exec(a)![1]) - Number(HIDDEN_STATE_OUTPUT.exec(b)![1]));
}

/** An analysis nobody waits for any more (the text changed, the view scrolled): never shown as an error. */
export class AnalysisCancelled extends Error {
  constructor() {
    super('Cancelled.');
    this.name = 'AbortError';
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AnalysisCancelled();
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}

export type { LoadProgress };
