// Opening a model for analysis: find or download its folder, prepare it (prepare.ts), load its tokenizer,
// start the forward-pass worker on its ONNX file, and read what the views need to know from config.json.
import type * as ort from 'onnxruntime-node';
import { tokenBytes } from '../tokenizers/offsets';
import type { ModelInfo } from '../types';
import { AnalysisCancelled, throwIfAborted } from './analysisErrors';
import type { CacheShape } from './forward';
import { ForwardThread } from './forwardThread';
import { isMaskedModel, maskTokenOf, positionOffset } from './masked';
import { type FetchOptions, ModelLoadError, readModelJson, resolveModelFolder } from './modelFiles';
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

export type Tokenizer = Awaited<ReturnType<Awaited<ReturnType<typeof transformers>>['AutoTokenizer']['from_pretrained']>>;

/** A model ready to analyse: its files, its tokenizer and the worker that runs its ONNX graph. */
export interface OpenedModel {
  ref: string;
  /** The folder loaded: the model's own, or its prepared copy. */
  folder: string;
  info: ModelInfo;
  tokenizer: Tokenizer;
  thread: ForwardThread;
  vocab: Vocabulary;
  cacheShape: CacheShape;
  /** The graph's attention outputs, one per layer; empty when the export has none. */
  attentionNames: string[];
  /** The graph's residual-stream outputs `hidden_states.{i}` in layer order; empty when the export has none. */
  hiddenStateNames: string[];
  /** How transformers.js picks the decoder file to generate with. */
  generateWith: { modelFileName: string; dtype: string };
  /** The decoder file of the model folder in use (e.g. onnx/model_quantized.onnx). */
  variant: string;
}

export async function openModel(ref: string, opts: LoadOptions): Promise<OpenedModel> {
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
  return {
    ref, folder: prepared.folder, info, tokenizer, thread, vocab, cacheShape, attentionNames,
    hiddenStateNames: hiddenStateOutputNames(thread.outputNames),
    generateWith: prepared.generateWith, variant: prepared.source.file,
  };
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

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}
