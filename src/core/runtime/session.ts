// A loaded model: tokenizer + onnxruntime session through transformers.js, with an analysis cache.
import type * as ort from 'onnxruntime-node';
import { tokenBytes, tokenOffsets } from '../tokenizers/offsets';
import type { AttentionData, LoadProgress, ModelInfo, Token } from '../types';
import { Analysis, type AnalysisInput } from './analysis';
import { AnalysisCache, DEFAULT_MEMORY_BUDGET_MB, MemoryBudget } from './cache';
import { CacheShape, decoderFeeds, forward } from './forward';
import { FetchOptions, ModelLoadError, readModelJson, resolveModelFolder } from './modelFiles';
import { prepareModelFolder } from './prepare';
import { attentionOutputNames } from './surgery';
import { transformers, withTransformersEnv } from './transformers';
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

  private constructor(
    readonly ref: string,
    readonly folder: string,
    readonly info: ModelInfo,
    private readonly tokenizer: Tokenizer,
    private readonly model: Model,
    private readonly vocab: Vocabulary,
    private readonly cacheShape: CacheShape,
    private readonly attentionNames: string[],
    memoryBudgetBytes = DEFAULT_MEMORY_BUDGET_MB * 2 ** 20,
  ) {
    this.memory = new MemoryBudget(memoryBudgetBytes);
    this.cache = new AnalysisCache(8, () => this.memory.budgetBytes);
    this.hiddenStateNames = hiddenStateOutputNames(sessionOf(model).outputNames);
  }

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
    const { AutoTokenizer, AutoModelForCausalLM, env } = await transformers();
    let tokenizer: Tokenizer;
    let model: Model;
    try {
      // A download elsewhere sets env.allowLocalModels = false while it runs: load in turn with it.
      [tokenizer, model] = await withTransformersEnv(opts.signal, () => new AnalysisCancelled(), async () => {
        env.allowLocalModels = true;
        const t = await AutoTokenizer.from_pretrained(prepared.folder, { local_files_only: true });
        const m = await AutoModelForCausalLM.from_pretrained(prepared.folder, {
          local_files_only: true,
          dtype: 'fp32',
          session_options: inferenceSessionOptions(opts.threads),
        });
        return [t, m] as const;
      });
    } catch (e) {
      if (e instanceof AnalysisCancelled) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new ModelLoadError(`Could not load the model in ${source}: ${firstLine(reason)}`, reason);
    }
    const config = readModelJson(prepared.folder, 'config.json');
    const tokenizerJson = readModelJson(prepared.folder, 'tokenizer.json');
    const session = sessionOf(model);
    const attentionNames = attentionOutputNames(session.outputNames);
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
    return new ModelSession(ref, prepared.folder, info, tokenizer, model, vocab, cacheShape, attentionNames, opts.memoryBudgetBytes);
  }

  /** Token ids of a text as the model sees it (BOS included when the tokenizer adds one). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text) as number[];
  }

  /** Tokens of a text with their UTF-16 offsets. */
  tokenize(text: string): Token[] {
    return tokenOffsets(text, this.encode(text), (id) => this.vocab.bytes(id), {
      specialIds: this.vocab.specialIds,
      pieceText: (id) => this.vocab.pieceText(id),
    });
  }

  /** Analyses a text: one forward pass, cached per (text, window, attention). */
  analyze(text: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
    const limit = Math.max(2, Math.min(opts.maxTokens ?? Infinity, this.info.contextLength));
    const cached = opts.fresh ? undefined : this.cache.get(text, limit, !!opts.attention);
    if (cached) return Promise.resolve(cached);
    return this.enqueue(() => this.analyzeNow(text, limit, !!opts.attention, opts.signal, opts.fresh));
  }

  /**
   * One forward pass at a time: onnxruntime already uses every core. onnxruntime-node runs the model on
   * this thread, so events (an edit, a hover moving on) are handled only between forward passes: each
   * turn starts after one round of the event loop, so that an abort they bring is seen before it runs.
   */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => new Promise((resolve) => setImmediate(resolve))).then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private forward(ids: number[], attentionNames: string[] | null) {
    this.forwardsRun++;
    return forward(sessionOf(this.model), ids, this.cacheShape, attentionNames);
  }

  private async analyzeNow(text: string, limit: number, wantAttention: boolean, signal?: AbortSignal,
    fresh = false): Promise<Analysis> {
    // Checked when this request's turn comes: a request superseded while it waited never runs the model.
    throwIfAborted(signal);
    const cached = fresh ? undefined : this.cache.get(text, limit, wantAttention);
    if (cached) return cached;
    if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
    const all = this.tokenize(text);
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const lead = all[0].special ? 1 : 0;
    const first = all.length > limit ? all.length - (limit - lead) : lead;
    const tokens = all.length > limit ? [...all.slice(0, lead), ...all.slice(first)] : all;
    const window = {
      firstToken: all.length > limit ? first : 0,
      totalTokens: all.length,
      start: all.length > limit ? all[first].start : 0,
      end: text.length,
      truncated: all.length > limit,
    };
    const names = wantAttention && this.attentionNames.length ? this.attentionNames : null;
    const ids = tokens.map((t) => t.id);
    // Once the model ran, the result is kept (and cached) even if its caller gave up meanwhile.
    const result = await this.forward(ids, names);
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
      memory: this.memory,
      // Made outside this scope: a closure made here would keep `result`, and with it the logits, alive.
      ...this.analysisLinks(ids),
    });
    if (analysis.tokens.some((t) => t.loss !== null && !Number.isFinite(t.loss))) {
      this.memory.release(analysis);
      throw new AnalysisError('The model produced NaN or infinite logits for this text; its weights may be corrupt.');
    }
    this.cache.set(text, limit, wantAttention, analysis);
    return analysis;
  }

  /** What an analysis keeps of its session: how to name a token, and how to recompute its logits. */
  private analysisLinks(ids: number[]): Pick<AnalysisInput, 'decode' | 'recompute'> {
    return {
      decode: (id) => this.vocab.pieceText(id),
      recompute: () => this.enqueue(async () => (await this.forward(ids, null)).logits),
    };
  }

  /**
   * One forward pass over a batch of token sequences of equal length (no cache), fetching the named outputs.
   * Queued with the analyses: one pass at a time.
   */
  run(rows: number[][], outputs: string[], signal?: AbortSignal): Promise<Record<string, ort.Tensor>> {
    return this.enqueue(async () => {
      throwIfAborted(signal);
      const s = sessionOf(this.model);
      return s.run(decoderFeeds(s.inputNames, rows, this.cacheShape), outputs);
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
    const output = await this.model.generate({
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

  async dispose(): Promise<void> {
    this.cache.clear();
    this.memory.clear();
    await this.model.dispose();
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

function sessionOf(model: Model): ort.InferenceSession {
  const sessions = (model as unknown as { sessions: Record<string, ort.InferenceSession> }).sessions;
  const session = sessions.model ?? Object.values(sessions)[0];
  if (!session) throw new ModelLoadError('transformers.js created no onnxruntime session for this model.');
  return session;
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
