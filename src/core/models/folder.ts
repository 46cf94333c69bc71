// A model folder transformers.js loads offline: config.json, tokenizer files, generation_config.json
// and onnx/model.onnx. config.json also keeps our plain config under `token_lens`, so the weights can
// be read back out of the ONNX file for fine-tuning.
import { mkdir, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../fsAtomic';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenizerFiles } from '../tokenizers/types';
import type { DecoderConfig, Weights } from './config';
import { initializerBytes, modelFileParts, modelFilePartsWithExternalData } from '../onnx/streamEncode';
import { modelProto } from './onnxWeights';

export { writeModelOnnx, readWeightsFromOnnx, readModelFolderWeights } from './onnxWeights';

export interface SpecialTokens {
  bos?: number;
  /** Generation stops at any of these. */
  eos?: number | number[];
}

export interface ModelFolder {
  config: DecoderConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
  attentionOutputs?: boolean;
  description?: string;
  /** BOS and EOS ids when the source knows them (a Hugging Face config); otherwise from the tokenizer. */
  specialTokens?: SpecialTokens;
  /** Weights past this many bytes go to onnx/model.onnx_data (default: externalDataThreshold()). */
  externalDataAbove?: number;
}

/** What config.json holds under `token_lens`. */
export interface TokenLensMeta {
  config: DecoderConfig;
  attention_outputs: boolean;
  scoring_head?: boolean;
  /** The graph outputs the residual stream after each block as `hidden_states.{i}`. */
  hidden_states?: boolean;
}

export const MODEL_FILE = join('onnx', 'model.onnx');
/** The external data file's name: onnxruntime and transformers.js look for `<model file>_data`. */
export const MODEL_DATA_FILE = 'model.onnx_data';

/**
 * A protobuf message (the .onnx file) cannot pass 2 GiB: models whose weights come near it keep them in
 * onnx/model.onnx_data. TOKEN_LENS_EXTERNAL_DATA_BYTES lowers the limit (tests write small models that way).
 */
export function externalDataThreshold(): number {
  const env = process.env.TOKEN_LENS_EXTERNAL_DATA_BYTES;
  // 128 MB below the limit leave room for the graph itself.
  return env && Number(env) >= 0 ? Number(env) : 2 ** 31 - 2 ** 27;
}

/** The id of a token string in a tokenizer.json (added tokens first, then the model's vocabulary). */
export function tokenIdOf(tokenizer: Record<string, unknown>, token: unknown): number | undefined {
  const text = typeof token === 'string' ? token : (token as { content?: string } | null)?.content;
  if (typeof text !== 'string') return undefined;
  const added = (tokenizer.added_tokens ?? []) as { id: number; content: string }[];
  const hit = added.find((t) => t.content === text);
  if (hit) return hit.id;
  const vocab = (tokenizer.model as { vocab?: unknown } | undefined)?.vocab;
  if (Array.isArray(vocab)) {
    const i = vocab.findIndex((e) => (Array.isArray(e) ? e[0] : e) === text);
    return i >= 0 ? i : undefined;
  }
  if (vocab && typeof vocab === 'object') return (vocab as Record<string, number>)[text];
  return undefined;
}

interface Ids {
  bos: number | null;
  eos: number | number[] | null;
  /** Where generation stops (generation_config.json). */
  stops: number | number[] | null;
}

/** Given ids win; otherwise the tokenizer's BOS and EOS, and generation stops at either. */
function specialIds(given: SpecialTokens | undefined, tok: TokenizerFiles): Ids {
  const bos = given?.bos ?? tokenIdOf(tok.tokenizer, tok.tokenizerConfig.bos_token) ?? null;
  if (given?.eos !== undefined) return { bos, eos: given.eos, stops: given.eos };
  const eos = tokenIdOf(tok.tokenizer, tok.tokenizerConfig.eos_token) ?? null;
  // BOS separates documents in llama2.c's training data, and llama2.c stops generating at it: so do we.
  const stops = [...new Set([eos, bos].filter((i): i is number => i !== null))];
  return { bos, eos, stops: stops.length > 1 ? stops : stops[0] ?? null };
}

/**
 * The model_type transformers.js loads the folder as. It decides only the cache's layer count here (the
 * cache's shapes come from the graph's declared inputs), and every type below reads the same fields,
 * which config.json carries for all of them.
 */
const TRANSFORMERS_JS_TYPES = new Set(['gpt2', 'llama', 'qwen2', 'mistral', 'gpt_neox']);

/** config.json: Hugging Face's field names for every family, our plain config under `token_lens`. */
export function hfConfig(c: DecoderConfig, ids: Ids, attentionOutputs: boolean, externalData = false) {
  const token_lens: TokenLensMeta = { config: c, attention_outputs: attentionOutputs, scoring_head: true, hidden_states: true };
  const model_type = TRANSFORMERS_JS_TYPES.has(c.arch) ? c.arch : 'llama';
  const context = c.block_size;
  return {
    model_type,
    vocab_size: c.vocab_size,
    // Llama, Qwen2, Mistral and GPT-NeoX names.
    hidden_size: c.n_embd, intermediate_size: c.d_ff, num_hidden_layers: c.n_layer,
    num_attention_heads: c.n_head, num_key_value_heads: c.n_kv_head, head_dim: c.head_dim,
    max_position_embeddings: context,
    // GPT-2 names.
    n_embd: c.n_embd, n_layer: c.n_layer, n_head: c.n_head, n_positions: context, n_ctx: context,
    tie_word_embeddings: c.tied_head,
    bos_token_id: ids.bos, eos_token_id: ids.eos,
    // How Hub exports tell transformers.js to fetch model.onnx_data with model.onnx.
    ...(externalData ? { 'transformers.js_config': { use_external_data_format: { 'model.onnx': 1 } } } : {}),
    token_lens,
  };
}

const json = (o: unknown) => JSON.stringify(o, null, 2) + '\n';

export async function writeModelFolder(dir: string, model: ModelFolder): Promise<void> {
  const attentionOutputs = model.attentionOutputs ?? false;
  const ids = specialIds(model.specialTokens, model.tokenizer);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  // Written part by part, straight from the weight arrays: the encoded file never sits in memory beside them.
  const proto = modelProto(model.config, model.weights, { attentionOutputs, scoringHead: true, hiddenStates: true });
  const dataFile = join(dir, 'onnx', MODEL_DATA_FILE);
  const external = initializerBytes(proto) > (model.externalDataAbove ?? externalDataThreshold());
  if (external) {
    const parts = modelFilePartsWithExternalData(proto, MODEL_DATA_FILE);
    // The data first: a model file is never there without the data it names.
    await writeFileAtomic(dataFile, parts.data);
    await writeFileAtomic(join(dir, MODEL_FILE), parts.model);
  } else {
    await writeFileAtomic(join(dir, MODEL_FILE), modelFileParts(proto));
    await rm(dataFile, { force: true }); // a replaced model's
  }
  await writeFileAtomic(join(dir, 'tokenizer.json'), json(model.tokenizer.tokenizer));
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), json(model.tokenizer.tokenizerConfig));
  await writeFileAtomic(join(dir, 'generation_config.json'), json({
    bos_token_id: ids.bos,
    eos_token_id: ids.stops,
    max_length: model.config.block_size,
  }));
  if (model.description) await writeFileAtomic(join(dir, 'README.md'), model.description.trimEnd() + '\n');
  // config.json last: a folder with a config.json is complete.
  await writeFileAtomic(join(dir, 'config.json'), json(hfConfig(model.config, ids, attentionOutputs, external)));
}

export function readModelFolderMeta(dir: string): TokenLensMeta {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const meta = cfg.token_lens as TokenLensMeta | undefined;
  if ((cfg.token_lens as { objective?: string } | undefined)?.objective === 'masked') {
    throw new Error(`${dir} is a masked language model (${cfg.model_type}): this works on causal models (next-token prediction) only.`);
  }
  if (!meta?.config?.arch) throw new Error(`${dir}/config.json was not written by Token Lens (no token_lens.config)`);
  if (typeof meta.config.n_layer !== 'number' || typeof meta.config.norm !== 'string') {
    throw new Error(`${dir} was written by an older Token Lens whose model config this version cannot read: ` +
      'import or write the model again.');
  }
  return meta;
}

export function readModelFolderConfig(dir: string): DecoderConfig {
  return readModelFolderMeta(dir).config;
}

/** The BOS and EOS ids a folder generates with (generation_config.json), to carry over to a fine-tuned copy. */
export function readModelFolderSpecialTokens(dir: string): SpecialTokens {
  const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
  return { bos: gen.bos_token_id ?? undefined, eos: gen.eos_token_id ?? undefined };
}
