// A masked language model's folder, as transformers.js loads a BERT: config.json (model_type "bert" with
// Hugging Face's field names), the WordPiece tokenizer files and onnx/model.onnx. The graph is the encoder
// of encoder.ts on the inference ops of graphOps.ts: inputs `input_ids`, `attention_mask`,
// `token_type_ids`; outputs `logits`, `attentions.{i}` and `hidden_states.{i}`. No KV cache: a masked
// model reads the whole text at once, both ways.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FLOAT, GraphBuilder } from '../onnx/builder';
import { modelFileParts } from '../onnx/streamEncode';
import { writeFileAtomic } from '../fsAtomic';
import type { TokenizerFiles } from '../tokenizers/types';
import type { Weights } from './config';
import { type EncoderConfig, encoder, encoderWeightShapes } from './encoder';
import { BATCH, GraphOps, SEQ, addWeights } from './graphOps';
import { MODEL_FILE, tokenIdOf } from './folder';

/** What config.json holds under `token_lens` for a masked model. */
export interface EncoderMeta {
  objective: 'masked';
  encoder: EncoderConfig;
  attention_outputs: true;
  hidden_states: true;
}

export function buildEncoderGraph(c: EncoderConfig, weights: Weights): GraphBuilder {
  const g = new GraphBuilder(c.arch);
  const sizes = { n_layer: c.n_layer, n_kv_head: c.n_head, head_dim: c.n_embd / c.n_head, n_embd: c.n_embd, vocab_size: c.vocab_size };
  const ops = new GraphOps(g, sizes, true, true, true);
  addWeights(g, c.arch, encoderWeightShapes(c), weights);
  encoder(c, ops);
  g.output('logits', FLOAT, [BATCH, SEQ, c.vocab_size]);
  for (let i = 0; i < c.n_layer; i++) g.output(`attentions.${i}`, FLOAT, [BATCH, c.n_head, SEQ, SEQ]);
  for (let i = 0; i < c.n_layer; i++) g.output(`hidden_states.${i}`, FLOAT, [BATCH, SEQ, c.n_embd]);
  return g;
}

const ARCHITECTURES: Record<string, string> = { bert: 'Bert', distilbert: 'DistilBert', roberta: 'Roberta' };

const json = (o: unknown) => JSON.stringify(o, null, 2) + '\n';

export async function writeEncoderFolder(dir: string, model: { config: EncoderConfig; weights: Weights; tokenizer: TokenizerFiles;
  description?: string }): Promise<void> {
  const c = model.config;
  const tok = model.tokenizer;
  const id = (name: string) => tokenIdOf(tok.tokenizer, tok.tokenizerConfig[name]) ?? null;
  const token_lens: EncoderMeta = { objective: 'masked', encoder: c, attention_outputs: true, hidden_states: true };
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFileAtomic(join(dir, MODEL_FILE), modelFileParts(buildEncoderGraph(c, model.weights).toModel()));
  await writeFileAtomic(join(dir, 'tokenizer.json'), json(tok.tokenizer));
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), json(tok.tokenizerConfig));
  if (model.description) await writeFileAtomic(join(dir, 'README.md'), model.description.trimEnd() + '\n');
  // config.json last: a folder with a config.json is complete.
  await writeFileAtomic(join(dir, 'config.json'), json({
    model_type: c.arch,
    architectures: [`${ARCHITECTURES[c.arch] ?? 'Bert'}ForMaskedLM`],
    vocab_size: c.vocab_size, hidden_size: c.n_embd, num_hidden_layers: c.n_layer, num_attention_heads: c.n_head,
    intermediate_size: c.d_ff, type_vocab_size: c.type_vocab_size,
    // RoBERTa's position table has rows for the offset too, which it names as padding_idx + 1.
    max_position_embeddings: c.position_offset + c.block_size,
    pad_token_id: c.position_offset ? c.position_offset - 1 : id('pad_token'),
    layer_norm_eps: c.norm_eps, hidden_act: c.gelu === 'exact' ? 'gelu' : 'gelu_new',
    mask_token_id: id('mask_token'),
    token_lens,
  }));
}
