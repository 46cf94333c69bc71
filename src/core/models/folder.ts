// A model folder transformers.js loads offline: config.json, tokenizer files, generation_config.json
// and onnx/model.onnx. config.json also keeps our plain config under `token_lens`, so the weights can
// be read back out of the ONNX file for fine-tuning.
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../fsAtomic';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenizerFiles } from '../tokenizers/types';
import { contextLength, GPT2Config, headSize, LlamaConfig, ModelConfig, Weights } from './config';
import { writeModelOnnx } from './onnxWeights';

export { writeModelOnnx, readWeightsFromOnnx } from './onnxWeights';

export interface ModelFolder {
  config: ModelConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
  attentionOutputs?: boolean;
  description?: string;
}

/** What config.json holds under `token_lens`. */
export interface TokenLensMeta {
  config: ModelConfig;
  attention_outputs: boolean;
  scoring_head?: boolean;
}

export const MODEL_FILE = join('onnx', 'model.onnx');

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

function specialIds(config: ModelConfig, tok: TokenizerFiles): { bos: number; eos: number } {
  if (config.arch === 'llama') return { bos: 1, eos: 2 };
  const last = config.vocab_size - 1;
  return {
    bos: tokenIdOf(tok.tokenizer, tok.tokenizerConfig.bos_token) ?? last,
    eos: tokenIdOf(tok.tokenizer, tok.tokenizerConfig.eos_token) ?? last,
  };
}

/** config.json in the Hugging Face style of the model's family. */
export function hfConfig(config: ModelConfig, ids: { bos: number; eos: number }, attentionOutputs: boolean) {
  const token_lens: TokenLensMeta = { config, attention_outputs: attentionOutputs, scoring_head: true };
  return config.arch === 'gpt2' ? gpt2Json(config, ids, token_lens) : llamaJson(config, token_lens);
}

function gpt2Json(c: GPT2Config, ids: { bos: number; eos: number }, token_lens: TokenLensMeta) {
  return {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'],
    n_embd: c.n_embd, n_head: c.n_head, n_layer: c.n_layer, n_positions: c.block_size, n_ctx: c.block_size,
    vocab_size: c.vocab_size, layer_norm_epsilon: c.layer_norm_eps, activation_function: 'gelu_new',
    bos_token_id: ids.bos, eos_token_id: ids.eos, tie_word_embeddings: true, token_lens,
  };
}

function llamaJson(c: LlamaConfig, token_lens: TokenLensMeta) {
  return {
    model_type: 'llama', architectures: ['LlamaForCausalLM'],
    hidden_size: c.dim, intermediate_size: c.hidden_dim, num_hidden_layers: c.n_layers,
    num_attention_heads: c.n_heads, num_key_value_heads: c.n_kv_heads, head_dim: headSize(c),
    max_position_embeddings: c.seq_len, rms_norm_eps: c.norm_eps, rope_theta: c.rope_theta,
    vocab_size: c.vocab_size, tie_word_embeddings: c.shared_classifier, hidden_act: 'silu',
    bos_token_id: 1, eos_token_id: 2, token_lens,
  };
}

const json = (o: unknown) => JSON.stringify(o, null, 2) + '\n';

export async function writeModelFolder(dir: string, model: ModelFolder): Promise<void> {
  const attentionOutputs = model.attentionOutputs ?? false;
  const ids = specialIds(model.config, model.tokenizer);
  const bytes = writeModelOnnx(model.config, model.weights, { attentionOutputs, scoringHead: true });
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFileAtomic(join(dir, MODEL_FILE), bytes);
  await writeFileAtomic(join(dir, 'tokenizer.json'), json(model.tokenizer.tokenizer));
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), json(model.tokenizer.tokenizerConfig));
  await writeFileAtomic(join(dir, 'generation_config.json'), json({
    bos_token_id: ids.bos,
    // BOS separates documents in llama2.c's training data, and llama2.c stops generating at it: so do we.
    eos_token_id: ids.bos === ids.eos ? ids.eos : [ids.eos, ids.bos],
    max_length: contextLength(model.config),
  }));
  if (model.description) await writeFileAtomic(join(dir, 'README.md'), model.description.trimEnd() + '\n');
  // config.json last: a folder with a config.json is complete.
  await writeFileAtomic(join(dir, 'config.json'), json(hfConfig(model.config, ids, attentionOutputs)));
}

export function readModelFolderMeta(dir: string): TokenLensMeta {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const meta = cfg.token_lens as TokenLensMeta | undefined;
  if (!meta?.config?.arch) throw new Error(`${dir}/config.json was not written by Token Lens (no token_lens.config)`);
  return meta;
}

export function readModelFolderConfig(dir: string): ModelConfig {
  return readModelFolderMeta(dir).config;
}
