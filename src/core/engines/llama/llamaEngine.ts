// The llama.cpp engine: any GGUF file, through node-llama-cpp's prebuilt CPU binary.
//
// A text is scored in one batched evaluation: at every position llama.cpp hands back the logit of the
// token that actually comes next, the position's best candidates and the sum of exp(logit - max), so
// log p = logit - max - log(sum) is the full softmax without copying the vocabulary to JavaScript.
// The rank of a token is exact: 1 + how many candidates beat it, counted among the best TOP_KEPT;
// the few tokens ranked lower get their full row, read from the same evaluation (batchLogits.ts).
//
// Exact numbers need flash attention off and an F32 KV cache (llama.cpp's defaults move probabilities by
// about 3e-4); the `fast` setting keeps the defaults and the analyses say their numbers are approximate.
import * as os from 'node:os';
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token as LlamaToken } from 'node-llama-cpp';
import { tokenOffsets } from '../../tokenizers/offsets';
import { Analysis } from '../../runtime/analysis';
import { AnalysisCache, DEFAULT_MEMORY_BUDGET_MB, MemoryBudget } from '../../runtime/cache';
import { AnalysisCancelled, AnalysisError, type AnalyzeOptions } from '../../runtime/session';
import { tailTokens } from '../../runtime/tail';
import { TOP_KEPT } from '../../runtime/topRows';
import type { Vocabulary } from '../../runtime/vocabulary';
import { analysisWindow } from '../../runtime/window';
import type { ModelInfo, Token } from '../../types';
import { LLAMA_CPP_MISSING, logprobsIn, type Engine, type GenerateOptions, type SequenceOptions } from '../engine';
import { BatchLogits } from './batchLogits';
import { checkGgufFile } from './ggufCheck';
import { ggufVocabulary } from './ggufVocabulary';
import { llamaRuntime } from './nodeLlama';

export interface LlamaLoadOptions {
  /** Threads for llama.cpp; default: the physical cores. */
  threads?: number;
  /** llama.cpp's fast defaults (flash attention, F16 KV cache): numbers then differ by about 3e-4. */
  fast?: boolean;
  /** The context window to allocate, at most the model's own (default: the model's, at most 4096). */
  contextSize?: number;
  memoryBudgetBytes?: number;
  signal?: AbortSignal;
}

/** Contexts are allocated in full up front: a long trained context would cost gigabytes of KV cache. */
const DEFAULT_MAX_CONTEXT = 4096;

export const APPROXIMATE_NOTE = 'llama.cpp fast mode (flash attention, F16 KV cache): probabilities are approximate (about 3e-4).';

export class LlamaEngine implements Engine {
  readonly kind = 'llama.cpp' as const;
  readonly missing = LLAMA_CPP_MISSING;
  readonly memory: MemoryBudget;
  private readonly cache: AnalysisCache;
  private queue: Promise<unknown> = Promise.resolve();
  private sequence: LlamaContextSequence;
  private readonly batch: BatchLogits;

  private constructor(
    readonly ref: string,
    readonly file: string,
    readonly info: ModelInfo,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly vocab: Vocabulary,
    private readonly bos: number | undefined,
    readonly approximate: string | undefined,
    memoryBudgetBytes: number,
  ) {
    this.memory = new MemoryBudget(memoryBudgetBytes);
    this.cache = new AnalysisCache(8, () => this.memory.budgetBytes);
    this.sequence = context.getSequence();
    this.batch = new BatchLogits(context, this.sequence, model, info.vocabSize, Math.min(TOP_KEPT, info.vocabSize));
  }

  /** Loads a GGUF file; `ref` is how the user named it (a path, or an Ollama model name). */
  static async load(ref: string, file: string, opts: LlamaLoadOptions = {}): Promise<LlamaEngine> {
    const llama = await llamaRuntime();
    const meta = await checkGgufFile(file, llama);
    if (opts.signal?.aborted) throw new AnalysisCancelled();
    const vocab = ggufVocabulary(meta.tokenizer, file);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    } catch (e) {
      throw new AnalysisError(`llama.cpp could not load ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    const contextSize = Math.max(2, Math.min(opts.contextSize ?? DEFAULT_MAX_CONTEXT, model.trainContextSize || DEFAULT_MAX_CONTEXT));
    let context: LlamaContext;
    try {
      context = await model.createContext({
        contextSize,
        batchSize: contextSize,
        sequences: 1,
        threads: opts.threads ?? physicalCores(llama.cpuMathCores),
        ...(opts.fast ? { flashAttention: true } : {
          flashAttention: false,
          experimentalKvCacheKeyType: 'F32',
          experimentalKvCacheValueType: 'F32',
        }),
      });
    } catch (e) {
      await model.dispose();
      throw new AnalysisError(`llama.cpp could not make a ${contextSize}-token context for ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    const bos = meta.tokenizer.add_bos_token !== false && model.tokens.bos !== null ? model.tokens.bos : undefined;
    const info: ModelInfo = {
      id: ref,
      arch: meta.architecture,
      vocabSize: vocab.size,
      contextLength: contextSize,
      layers: meta.layers,
      heads: meta.heads,
      attention: 'unavailable',
      attentionNote: LLAMA_CPP_MISSING.attention,
    };
    return new LlamaEngine(ref, file, info, model, context, vocab, bos, opts.fast ? APPROXIMATE_NOTE : undefined,
      opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_MB * 2 ** 20);
  }

  /** Token ids as llama.cpp sees the text: BOS first when the model's `add_bos_token` says so. */
  encode(text: string): number[] {
    const ids = this.model.tokenize(text, false) as number[];
    return this.bos === undefined ? ids : [this.bos, ...ids];
  }

  tokenize(text: string): Token[] {
    return tokenOffsets(text, this.encode(text), this.vocab.bytes, {
      specialIds: this.vocab.specialIds,
      pieceText: (id) => this.vocab.pieceText(id),
    });
  }

  tokenText(id: number): string {
    return this.vocab.pieceText(id);
  }

  idsOfText(text: string): number[] {
    const ids: number[] = [];
    for (let id = 0; id < this.info.vocabSize; id++) if (this.vocab.pieceText(id) === text) ids.push(id);
    return ids;
  }

  /** Full logits rows after `positions` of a sequence of ids, the ids taken as they are (no BOS added). */
  logitsAt(ids: number[], positions: number[], signal?: AbortSignal): Promise<Float32Array[]> {
    const V = this.info.vocabSize;
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) return Promise.reject(new AnalysisError(`Token id ${bad} is not in this model's vocabulary (0 to ${V - 1}).`));
    if (!ids.length || ids.length > this.info.contextLength) {
      return Promise.reject(new AnalysisError(`${ids.length} tokens: a sequence has 1 to ${this.info.contextLength} (the context).`));
    }
    return this.enqueue(async () => {
      if (signal?.aborted) throw new AnalysisCancelled();
      const batch = await this.batch.decode(ids, positions);
      const rows: Float32Array[] = [];
      for (const p of positions) rows.push(await this.batch.row(batch, p));
      return rows;
    });
  }

  /** Each sequence is one llama.cpp batch with logits at its last position only. */
  async nextLogprobs(rows: number[][], tokens: number[], opts: SequenceOptions = {}): Promise<number[][]> {
    const out: number[][] = [];
    for (const ids of rows) {
      const [row] = await this.logitsAt(ids, [ids.length - 1], opts.signal);
      out.push(logprobsIn(row, tokens));
      opts.onProgress?.(out.length, rows.length);
    }
    return out;
  }

  analyze(text: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
    const limit = Math.max(2, Math.min(opts.maxTokens ?? Infinity, this.info.contextLength));
    const preceding = Math.max(0, opts.precedingChars ?? 0);
    // Attention is never computed here: the same analysis answers with or without it.
    const cached = opts.fresh ? undefined : this.cache.get(text, limit, false, preceding);
    if (cached) return Promise.resolve(cached);
    return this.enqueue(async () => {
      if (opts.signal?.aborted) throw new AnalysisCancelled();
      const again = opts.fresh ? undefined : this.cache.get(text, limit, false, preceding);
      return again ?? this.analyzeNow(text, limit, preceding, !!opts.attention, opts.signal);
    });
  }

  /** One evaluation at a time: the context has one sequence, and llama.cpp already uses every core. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => new Promise((resolve) => setImmediate(resolve))).then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async analyzeNow(text: string, limit: number, preceding: number, wantAttention: boolean, signal?: AbortSignal): Promise<Analysis> {
    if (text.length === 0) throw new AnalysisError('Nothing to analyse: the text is empty.');
    const tail = await tailTokens(text, limit, (s) => this.tokenize(s), preceding > 0);
    if (signal?.aborted) throw new AnalysisCancelled();
    const all = tail.tokens;
    if (all.every((t) => t.special)) throw new AnalysisError('Nothing to analyse: the text has no tokens.');
    const { lead } = tail;
    const first = all.length > limit ? all.length - (limit - lead) : lead;
    const tokens = all.length > limit ? [...all.slice(0, lead), ...all.slice(first)] : all;
    const ids = tokens.map((t) => t.id);
    const batch = await this.batch.decode(ids);
    const { targetLogprob, logSumExp, ranks, top } = await this.batch.score(batch);
    const rows = new Map<number, Float32Array>();
    const analysis = new Analysis({
      modelId: this.ref,
      text,
      tokens,
      vocabSize: this.info.vocabSize,
      window: analysisWindow(text, tail, tokens, preceding),
      attention: null,
      attentionNote: wantAttention ? LLAMA_CPP_MISSING.attention : undefined,
      approximate: this.approximate,
      decode: (id) => this.vocab.pieceText(id),
      scores: { targetLogprob, logSumExp },
      ranked: { ranks, top },
      memory: this.memory,
      recompute: () => Promise.reject(new Error('llama.cpp analyses fetch single rows')),
      fetchRow: async (position) => {
        let row = rows.get(position);
        if (!row) {
          row = await this.enqueue(() => this.batch.row(batch, position));
          if (rows.size >= 4) rows.delete(rows.keys().next().value!);
          rows.set(position, row);
        }
        return row;
      },
    });
    if (analysis.tokens.some((t) => t.loss !== null && !Number.isFinite(t.loss))) {
      this.memory.release(analysis);
      throw new AnalysisError('The model produced NaN or infinite logits for this text; its weights may be corrupt.');
    }
    this.cache.set(text, limit, false, analysis, preceding);
    return analysis;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<string> {
    return this.enqueue(async () => {
      let ids = prompt.length ? this.encode(prompt) : [];
      if (!ids.length) {
        const bos = this.model.tokens.bos;
        if (bos === null) throw new AnalysisError('This model has no BOS token: give a prompt to continue.');
        ids = [bos];
      }
      const room = this.info.contextLength - ids.length;
      if (room <= 0) throw new AnalysisError(`The prompt has ${ids.length} tokens: no room left in the ${this.info.contextLength}-token context.`);
      const maxNew = Math.min(opts.maxNewTokens ?? 256, room);
      this.batch.forget();
      await this.sequence.clearHistory();
      const out: number[] = [];
      const greedy = opts.greedy || opts.temperature === 0;
      for await (const token of this.sequence.evaluate(ids as LlamaToken[], { temperature: greedy ? 0 : opts.temperature ?? 1 })) {
        if (opts.signal?.aborted) throw new AnalysisCancelled();
        // A story ends where the model predicts BOS or an end-of-generation token, as llama2.c stops.
        if (this.model.isEogToken(token) || token === this.model.tokens.bos) break;
        out.push(token);
        if (out.length >= maxNew) break;
      }
      return this.model.detokenize(out as LlamaToken[], false, ids as LlamaToken[]);
    });
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    this.memory.clear();
    await this.queue.catch(() => undefined);
    this.batch.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}

/** Physical cores: llama.cpp's count of math cores, else half the logical CPUs (two threads per core). */
function physicalCores(mathCores: number): number {
  if (mathCores > 0) return mathCores;
  return Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / 2));
}
