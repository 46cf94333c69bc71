// The families' defaults as plain data, and named model shapes for random-weight models.
import type { DecoderConfig } from './config';
import { bertConfig, type EncoderConfig } from './encoder';

export interface Sizes {
  n_layer: number;
  n_head: number;
  n_embd: number;
  block_size: number;
  vocab_size: number;
}

/** GPT-2 (and nanoGPT): learned positions, LayerNorm with biases, GELU-tanh MLP 4x wide, tied head. */
export function gpt2Config(s: Sizes & Partial<DecoderConfig>): DecoderConfig {
  return {
    arch: 'gpt2', n_kv_head: s.n_head, head_dim: s.n_embd / s.n_head, d_ff: 4 * s.n_embd,
    norm: 'layernorm', norm_eps: 1e-5, mlp: 'gelu', gelu: 'tanh', position: 'learned',
    rope_theta: 10000, rope_layout: 'half', rotary_dim: 0, rope_scaling: null, parallel_residual: false,
    bias: { qkv: true, o: true, mlp: true, norm: true }, tied_head: true, sliding_window: null,
    ...s,
  };
}

/** Llama (as llama2.c writes it): RMSNorm, interleaved RoPE, SwiGLU, no biases, head tied unless told. */
export function llamaConfig(s: Sizes & { d_ff: number } & Partial<DecoderConfig>): DecoderConfig {
  const head_dim = s.head_dim ?? s.n_embd / s.n_head;
  return {
    arch: 'llama', n_kv_head: s.n_head, head_dim, norm: 'rmsnorm', norm_eps: 1e-5, mlp: 'swiglu', gelu: 'tanh',
    position: 'rope', rope_theta: 10000, rope_layout: 'interleaved', rotary_dim: head_dim, rope_scaling: null,
    parallel_residual: false, bias: { qkv: false, o: false, mlp: false, norm: false }, tied_head: true,
    sliding_window: null,
    ...s,
  };
}

const gpt2 = (n_layer: number, n_head: number, n_embd: number, block_size: number, vocab_size: number) =>
  gpt2Config({ n_layer, n_head, n_embd, block_size, vocab_size });

const llama = (n_embd: number, d_ff: number, n_layer: number, n_head: number, n_kv_head: number, vocab_size: number,
  block_size: number) => llamaConfig({ n_embd, d_ff, n_layer, n_head, n_kv_head, vocab_size, block_size });

export const MODEL_PRESETS: Record<string, DecoderConfig> = {
  'gpt2-small': gpt2(12, 12, 768, 1024, 50257),
  'gpt2-tiny': gpt2(2, 4, 64, 128, 50257),
  // 774M parameters: 3.1 GB in float32, past one .onnx file's 2 GB (its weights go to model.onnx_data).
  'gpt2-large': gpt2(36, 20, 1280, 1024, 50257),
  'stories260K': llama(64, 172, 5, 8, 4, 512, 512),
  'stories15M': llama(288, 768, 6, 6, 6, 32000, 256),
  'llama-tiny': llama(32, 64, 2, 4, 2, 64, 64),
};

export function modelPreset(name: string): DecoderConfig {
  const c = MODEL_PRESETS[name];
  if (!c) throw new Error(`unknown preset ${name}; known: ${Object.keys(MODEL_PRESETS).join(', ')}`);
  return structuredClone(c);
}

const bert = (n_layer: number, n_head: number, n_embd: number, block_size: number) =>
  bertConfig({ n_layer, n_head, n_embd, block_size, vocab_size: 1 });

/** Masked-model shapes (encoder.ts); the vocabulary's size comes from the tokenizer they are written with. */
export const ENCODER_PRESETS: Record<string, EncoderConfig> = {
  'bert-tiny': bert(2, 2, 128, 512),
  'bert-mini': bert(4, 4, 256, 512),
  'bert-base': bert(12, 12, 768, 512),
};
