// A loaded model: the tokenizer (transformers.js) and an onnxruntime session in a worker thread, with an
// analysis cache.
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { tokenBytes, tokenOffsets } from '../tokenizers/offsets';
import type { AttentionData, LoadProgress, ModelInfo, Token } from '../types';
import { Analysis } from './analysis';
import { AnalysisCache } from './cache';
import type { CacheShape } from './forward';
import { ForwardThread } from './forwardThread';
import { FetchOptions, ModelLoadError, readModelJson, resolveModelFolder } from './modelFiles';
import { prepareModelFolder } from './prepare';
import { attentionOutputNames } from './surgery';
import { transformers } from './transformers';
import { tailTokens } from './tail';
import { analysisWindow } from './window';
import { Vocabulary } from './vocabulary';

export interface LoadOptions extends FetchOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
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
  private readonly cache = new AnalysisCache();
  private queue: Promise<unknown> = Promise.resolve();
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
  ) {}

  static async load(ref: string, opts: LoadOptions): Promise<ModelSession> {
    const source = await resolveModelFolder(ref, opts);
    throwIfAborted(opts.signal);
    const prepared = await prepareModelFolder(source, opts.cacheDir, opts.onProgress);
    opts.onProgress?.({ status: 'prepare', message: 'Starting onnxruntime…' });
    const { AutoTokenizer, env } = await transformers();
    env.allowLocalModels = true;
    let tokenizer: Tokenizer;
    let thread: ForwardThread;
    try {
      tokenizer = await AutoTokenizer.from_pretrained(prepared.folder, { local_files_only: true });
      // The forward pass runs in its own thread; transformers.js's model is loaded only to generate.
      thread = await ForwardThread.open(path.join(prepared.folder, 'onnx', 'model.onnx'), inferenceSessionOptions(opts.threads));
    } catch (e) {
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
      arch: config.model_type ?? 'unknown',
      vocabSize: config.vocab_size ?? vocab.size,
      contextLength: config.max_position_embeddings ?? config.n_positions ?? config.n_ctx ?? 2048,
      layers: config.num_hidden_layers ?? config.n_layer ?? attentionNames.length,
      heads,
      attention: attentionNames.length ? 'available' : 'unavailable',
      attentionNote: attentionNames.length ? undefined : prepared.attentionNote ?? 'attention not available for this model export',
    };
    opts.onProgress?.({ status: 'ready' });
    return new ModelSession(ref, prepared.folder, info, tokenizer, thread, vocab, cacheShape, attentionNames, opts.threads);
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
    // One forward pass at a time: onnxruntime already uses every core.
    const run = this.queue.then(() => this.analyzeNow(text, limit, !!opts.attention, preceding, opts.signal, opts.fresh));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async analyzeNow(text: string, limit: number, wantAttention: boolean, preceding: number, signal?: AbortSignal,
    fresh = false): Promise<Analysis> {
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
    const result = await this.thread.run(tokens.map((t) => t.id), this.cacheShape, names);
    throwIfAborted(signal);
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
      decode: (id) => this.vocab.pieceText(id),
      scores: result.scores,
    });
    if (analysis.tokens.some((t) => t.loss !== null && !Number.isFinite(t.loss))) {
      throw new AnalysisError('The model produced NaN or infinite logits for this text; its weights may be corrupt.');
    }
    this.cache.set(text, limit, wantAttention, analysis, preceding);
    return analysis;
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
    return (this.generator ??= transformers().then(({ AutoModelForCausalLM }) => AutoModelForCausalLM.from_pretrained(this.folder, {
      local_files_only: true,
      dtype: 'fp32',
      session_options: inferenceSessionOptions(this.threads),
    })));
  }

  async dispose(): Promise<void> {
    this.cache.clear();
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

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AnalysisError('Cancelled.');
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}

export type { LoadProgress };
