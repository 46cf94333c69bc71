// Hugging Face masked language models (BertForMaskedLM, RobertaForMaskedLM) into the encoder of
// encoder.ts. Their nn.Linear weights are [out, in] and are transposed; the output layer is tied to the
// word embeddings (cls.predictions.decoder.weight / lm_head.decoder.weight is that same matrix, when saved).
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Weights } from '../models/config';
import { type EncoderConfig, checkEncoderConfig } from '../models/encoder';
import type { TokenizerFiles } from '../tokenizers/types';
import { geluKind, HfConfig } from './hfConfig';
import { HF_MASKED_TYPES, openHfWeights } from './hfFolder';
import { findPrefix, TensorPicker } from './pick';
import type { CheckpointTensors } from './tensors';

/** Where each family keeps its parts, by Hugging Face's names. */
const LAYOUTS: Record<(typeof HF_MASKED_TYPES)[number], { model: readonly string[]; head: string; headNorm: string; bias: readonly string[] }> = {
  bert: { model: ['bert.', ''], head: 'cls.predictions.transform.', headNorm: 'LayerNorm', bias: ['cls.predictions.bias', 'cls.predictions.decoder.bias'] },
  roberta: { model: ['roberta.', ''], head: 'lm_head.', headNorm: 'layer_norm', bias: ['lm_head.bias', 'lm_head.decoder.bias'] },
};

export type HfEncoderType = keyof typeof LAYOUTS;

/** The masked-model family of a Hugging Face folder, or undefined when it is not one Token Lens imports. */
export function hfEncoderType(dir: string): HfEncoderType | undefined {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return undefined;
  const type = JSON.parse(readFileSync(file, 'utf8')).model_type;
  return type in LAYOUTS ? type as HfEncoderType : undefined;
}

export function hfEncoderConfig(cfg: HfConfig, type: HfEncoderType): EncoderConfig {
  // RoBERTa numbers positions from padding_idx + 1: the table's first rows are not positions.
  const position_offset = type === 'roberta' ? cfg.int('pad_token_id', 1) + 1 : 0;
  if (cfg.str('position_embedding_type', 'absolute') !== 'absolute') throw cfg.refuse(`position_embedding_type "${cfg.json.position_embedding_type}"`);
  const c: EncoderConfig = {
    arch: type, vocab_size: cfg.int('vocab_size'), n_layer: cfg.int('num_hidden_layers'), n_head: cfg.int('num_attention_heads'),
    n_embd: cfg.int('hidden_size'), d_ff: cfg.int('intermediate_size'),
    block_size: cfg.int('max_position_embeddings') - position_offset, type_vocab_size: cfg.int('type_vocab_size', 2),
    position_offset, norm_eps: cfg.num('layer_norm_eps', 1e-12), gelu: geluKind(cfg, 'hidden_act', 'gelu'),
  };
  try {
    checkEncoderConfig(c);
  } catch (e) {
    throw new Error(`${cfg.path}: ${(e as Error).message}`);
  }
  return c;
}

export function hfEncoderWeights(src: CheckpointTensors, c: EncoderConfig, type: HfEncoderType): Weights {
  const layout = LAYOUTS[type];
  const p = new TensorPicker(src, findPrefix(src, 'embeddings.word_embeddings.weight', [...layout.model]));
  const { n_embd: C, d_ff: F, vocab_size: V } = c;
  const linear = (to: string, from: string, out: number, inp: number, picker = p) => {
    picker.set(`${to}.weight`, picker.linear(`${from}.weight`, out, inp), [inp, out]);
    picker.copy(`${to}.bias`, `${from}.bias`, [out]);
  };
  const norm = (to: string, from: string, picker = p) => {
    picker.copy(`${to}.weight`, `${from}.weight`, [C]);
    picker.copy(`${to}.bias`, `${from}.bias`, [C]);
  };
  p.copy('tok_emb', 'embeddings.word_embeddings.weight', [V, C]);
  p.copy('pos_emb', 'embeddings.position_embeddings.weight', [c.position_offset + c.block_size, C]);
  if (c.type_vocab_size) p.copy('type_emb', 'embeddings.token_type_embeddings.weight', [c.type_vocab_size, C]);
  norm('ln_emb', 'embeddings.LayerNorm');
  for (let i = 0; i < c.n_layer; i++) {
    const h = `encoder.layer.${i}.`, l = `layers.${i}.`;
    linear(l + 'attn.q', h + 'attention.self.query', C, C);
    linear(l + 'attn.k', h + 'attention.self.key', C, C);
    linear(l + 'attn.v', h + 'attention.self.value', C, C);
    linear(l + 'attn.o', h + 'attention.output.dense', C, C);
    norm(l + 'ln_1', h + 'attention.output.LayerNorm');
    linear(l + 'mlp.up', h + 'intermediate.dense', F, C);
    linear(l + 'mlp.down', h + 'output.dense', C, F);
    norm(l + 'ln_2', h + 'output.LayerNorm');
  }
  // The head sits beside the model's prefix, never under it.
  const top = new TensorPicker(src);
  linear('mlm.dense', `${layout.head}dense`, C, C, top);
  norm('mlm.ln', `${layout.head}${layout.headNorm}`, top);
  const bias = layout.bias.find((n) => top.has(n)) ?? layout.bias[0];
  top.copy('mlm.bias', bias, [V]);
  for (const [name, t] of top.weights) p.weights.set(name, t);
  return p.weights;
}

export interface ImportedEncoder {
  config: EncoderConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
  description: string;
}

/** A Hugging Face BERT or RoBERTa folder: config, weights, and its tokenizer.json (or the one given). */
export function readHfEncoder(dirIn: string, type: HfEncoderType, tokenizer?: TokenizerFiles): ImportedEncoder {
  const dir = resolve(dirIn);
  const path = join(dir, 'config.json');
  const cfg = new HfConfig(JSON.parse(readFileSync(path, 'utf8')), path);
  const config = hfEncoderConfig(cfg, type);
  const weights = hfEncoderWeights(openHfWeights(dir), config, type);
  let tok = tokenizer;
  if (!tok) {
    if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`${dir} has no tokenizer.json; give one with --tokenizer FILE.`);
    const configFile = join(dir, 'tokenizer_config.json');
    tok = {
      tokenizer: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      tokenizerConfig: existsSync(configFile) ? JSON.parse(readFileSync(configFile, 'utf8')) : {},
    };
  }
  const pieces = Object.keys((tok.tokenizer.model as { vocab?: object } | undefined)?.vocab ?? {}).length;
  if (pieces > config.vocab_size) {
    throw new Error(`The tokenizer has ${pieces} pieces but ${path} a vocabulary of ${config.vocab_size}: they do not belong together.`);
  }
  return {
    config, weights, tokenizer: tok,
    description: `# ${basename(dir)}\n\nImported by Token Lens from the Hugging Face checkpoint \`${basename(dir)}\` ` +
      `(model_type ${type}, a masked language model): ${config.n_layer} layers, ${config.n_head} heads, width ${config.n_embd}, ` +
      `vocabulary ${config.vocab_size}, context ${config.block_size}.`,
  };
}
