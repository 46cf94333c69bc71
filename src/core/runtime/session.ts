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
import { TextTokenizer } from './textTokenizer';
import { analysisWindow } from './window';
import { analyzeInWindows, type WholeFileAnalysis, type WindowOptions } from './wholeFile';
import { Vocabulary } from './vocabulary';
import type { Capability, Engine } from '../engines/engine';
import { isMaskedModel, type MaskedScores, maskedScores, maskTokenOf, positionOffset } from './masked';
import { attentionLayer } from './attentionLayer';

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

/** The onnxruntime engine: the one with every capability (a foreign export may lack attention or hidden states). */
export class ModelSession implements Engine {
  readonly kind = 'onnx' as const;
  /** Bounds what analyses keep; shared by every analysis of this model. */
  readonly memory: MemoryBudget;
  private readonly cache: AnalysisCache;
  private readonly textTokenizer: TextTokenizer;
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
    this.missing = {
      ...(info.attentionNote && info.attention === 'unavailable' ? { attention: info.attentionNote } : {}),
      ...(this.hiddenStateNames.length ? {} : { hiddenStates: 'this export does not output per-layer hidden states' }),
    };
    this.textTokenizer = new TextTokenizer(tokenizer as unknown as { encode(text: string): number[] }, vocab);
    const pastInputs = thread.inputNames.filter((n) => n.startsWith('past_key_values.')).length;
    this.kept = canContinue(thread.inputNames, thread.outputNames) && hasScoringHead(thread.outputNames)
      ? new KeptCaches(thread, this.memory, pastInputs * cacheShape.kvHeads * cacheShape.headDim * 4)
      : undefined;
  }

  /** KV caches of recent incremental analyses; undefined when the export cannot continue a pass. */
  private readonly kept?: KeptCaches;

  /** How transformers.js picks the decoder file to generate with. */
  private generateWith: { modelFileName: string; dtype: string } = { modelFileName: 'model', dtype: 'fp32' };
  /** The decoder file of the model folder in use (e.g. onnx/model_quantized.onnx). */
  variant = 'onnx/model.onnx';
  readonly missing: Partial<Record<Capability, string>>;

  /** The graph's residual-stream outputs `hidden_states.{i}` in layer order; empty when the export has none. */
  readonly hiddenStateNames: string[];

  /** How many forward passes the model ran (analyses and recomputed logits). */
  get forwardCount(): number {
    return this.forwardsRun;
  }

  static async load(ref: string, opts: LoadOptions): Promise<ModelSession> {
    const source = await resolveModelFolder(ref, opts);
    throwIfAborted(opts.signal);
    const prepared = await prepareModelFolder(source, opts.cacheDir, opts.onProgress, opts.dtype);
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
    } catch (e) {
      if (e instanceof AnalysisCancelled) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new ModelLoadError(`Could not load the model in ${source}: ${firstLine(reason)}`, reason);
    }
    try {
      // The forward pass runs in its own thread; transformers.js's model is loaded only to generate.
      thread = await ForwardThread.open(prepared.file, inferenceSessionOptions(opts.threads), prepared.folder);
    } catch (e) {
      // Name the file: a folder may hold several variants (model.onnx, model_fp16.onnx, a merged decoder).
      const reason = e instanceof Error ? e.message : String(e);
      throw new ModelLoadError(`Could not load ${prepared.source.file} of the model in ${source}: ${firstLine(reason)}`, reason);
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
    const mask = isMaskedModel(config)
      ? maskTokenOf(tokenizerJson, readModelJson(prepared.folder, 'tokenizer_config.json'))
      : undefined;
    if (isMaskedModel(config) && !mask) {
      await thread.dispose();
      throw new ModelLoadError(`${source} is a masked language model (${config.model_type}), but its tokenizer has no mask token.`);
    }
    const info: ModelInfo = {
      id: ref,
      arch: config.token_lens?.config?.arch ?? config.model_type ?? 'unknown',
      vocabSize: config.vocab_size ?? vocab.size,
      contextLength: (config.max_position_embeddings ?? config.n_positions ?? config.n_ctx ?? 2048) - positionOffset(config),
      layers: config.num_hidden_layers ?? config.n_layer ?? attentionNames.length,
      heads,
      attention: attentionNames.length ? 'available' : 'unavailable',
      attentionNote: attentionNames.length ? undefined : prepared.attentionNote ?? 'attention not available for this model export',
      ...(mask ? { objective: 'masked' as const, maskToken: mask.text, maskId: mask.id } : {}),
    };
    opts.onProgress?.({ status: 'ready' });
    const session = new ModelSession(ref, prepared.folder, info, tokenizer, thread, vocab, cacheShape, attentionNames, opts.threads, opts.memoryBudgetBytes);
    session.generateWith = prepared.generateWith;
    session.variant = prepared.source.file;
    return session;
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
    // Only the end of a long text is tokenized (the model sees at most `limit` tokens), in the worker thread:
    // even that end takes milliseconds per thousand characters, too long for the editor's thread.
    const tail = await this.thread.tail(text, limit, preceding > 0);
    throwIfAborted(signal);
    const all = tail.tokens;
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const { lead } = tail;
    const first = all.length > limit ? all.length - (limit - lead) : lead;
    const tokens = all.length > limit ? [...all.slice(0, lead), ...all.slice(first)] : all;
    const window = analysisWindow(text, tail, tokens, preceding);
    // Attention is fetched a layer at a time: the first one now (the panel shows it first), the others when asked for.
    const names = wantAttention && this.attentionNames.length ? this.attentionNames.slice(0, 1) : null;
    const analysis = await this.passOver(text, tokens, window, names, { incremental, fresh, logits, signal, attention: wantAttention });
    this.cache.set(text, limit, wantAttention, analysis, preceding);
    return analysis;
  }

  /**
   * One pass over `tokens`. `incremental`: continue the kept KV cache that shares the longest prefix with
   * them (`fresh`: none) and keep this one (keptCaches.ts). `logits: false`: leave the [T, V] logits in the
   * worker (scores, ranks and candidates only; a full row is recomputed when asked for).
   */
  private async passOver(text: string, tokens: Token[], window: AnalysisWindow, names: string[] | null,
    opts: { incremental?: boolean; fresh?: boolean; logits?: boolean; signal?: AbortSignal; attention?: boolean }): Promise<Analysis> {
    const ids = tokens.map((t) => t.id);
    // A masked model is scored by masking each token in turn (masked.ts): no KV cache to continue.
    if (this.info.objective === 'masked') return this.analysisOf(text, tokens, window, await this.maskedForward(ids, names, opts.signal), !!opts.attention);
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
      // Asked for attention the export lacks: the analysis carries the note why.
      analysis = this.analysisOf(text, tokens, window, result, !!opts.attention);
    } catch (e) {
      if (plan) this.kept!.abandon(plan);
      throw e;
    }
    if (plan) this.kept!.add(plan, ids, analysis);
    return analysis;
  }

  /** The analysis of one pass over `tokens`; refuses non-finite scores (corrupt weights). */
  private analysisOf(text: string, tokens: Token[], window: AnalysisWindow, result: ForwardResult | MaskedScores, wantAttention: boolean): Analysis {
    const masked = 'scored' in result ? result : undefined;
    // A masked model's batched pass returns its first layer as [heads, T, T]; the worker shapes the others'.
    const layer0 = masked
      ? (masked.attentions?.[0] ? attentionLayer(masked.attentions[0], masked.heads, tokens.length) : undefined)
      : (result as ForwardResult).layers?.[0];
    const attention: AttentionData | null = layer0
      ? { layers: this.attentionNames.length, heads: layer0.heads.length, size: tokens.length }
      : null;
    const analysis = new Analysis({
      modelId: this.ref,
      text,
      tokens,
      logits: result.logits,
      vocabSize: result.vocabSize,
      window,
      attention,
      attentionLayers: layer0 ? [{ layer: 0, value: layer0 }] : undefined,
      attentionNote: wantAttention && !attention ? this.info.attentionNote : undefined,
      scores: 'scores' in result ? result.scores : null,
      ranked: 'ranked' in result ? result.ranked : undefined,
      ...(masked ? { objective: 'masked' as const, scored: masked.scored } : {}),
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
    // Tokenized in the worker thread: a long text takes far too long for the editor's thread.
    const all = (await this.thread.tail(text, Number.MAX_SAFE_INTEGER, false)).tokens;
    throwIfAborted(opts.signal);
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const size = Math.min(opts.windowTokens ?? Infinity, this.info.contextLength);
    return analyzeInWindows(text, all, size, opts, (tokens, window) => this.enqueue(async () => {
      throwIfAborted(opts.signal);
      // Scores, ranks and candidates only: a window's logits stay in the worker (recomputed if a row is asked for).
      return this.passOver(text, tokens, window, null, { incremental: opts.incremental, logits: false });
    }));
  }

  /** What an analysis keeps of its session: how to name a token, and how to recompute its logits. */
  private analysisLinks(ids: number[]): Pick<AnalysisInput, 'decode' | 'recompute' | 'fetchAttention'> {
    return {
      decode: (id) => this.vocab.pieceText(id),
      recompute: () => this.enqueue(async () =>
        (this.info.objective === 'masked' ? await this.maskedForward(ids, null) : await this.forward(ids, null)).logits!),
      fetchAttention: (layers) => this.enqueue(() => {
        this.forwardsRun++;
        return this.thread.attention(ids, this.cacheShape, layers.map((l) => this.attentionNames[l]));
      }),
    };
  }

  /** A masked model's scores: the text as given and each token masked in turn (masked.ts), in batched passes. */
  private maskedForward(ids: number[], attentionNames: string[] | null, signal?: AbortSignal) {
    return maskedScores(ids, this.info.maskId!, this.info.vocabSize, (id) => this.vocab.specialIds.has(id), attentionNames, {
      run: (rows, outputs) => {
        this.forwardsRun++;
        return this.thread.outputs(rows, this.cacheShape, outputs);
      },
      // A long text takes several passes: one that nobody waits for any more stops between two.
      beforePass: () => throwIfAborted(signal),
    });
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
    if (this.info.objective === 'masked') {
      throw new AnalysisError(`${this.ref} is a masked language model: it fills in blanks (${this.info.maskToken}) rather than continuing a text.`);
    }
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
          dtype: this.generateWith.dtype as 'fp32',
          model_file_name: this.generateWith.modelFileName,
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
