// Named model shapes as plain data.
import type { GPT2Config, LlamaConfig, ModelConfig } from './config';

const gpt2 = (n_layer: number, n_head: number, n_embd: number, block_size: number, vocab_size: number): GPT2Config =>
  ({ arch: 'gpt2', n_layer, n_head, n_embd, block_size, vocab_size, layer_norm_eps: 1e-5 });

const llama = (dim: number, hidden_dim: number, n_layers: number, n_heads: number, n_kv_heads: number,
  vocab_size: number, seq_len: number): LlamaConfig =>
  ({ arch: 'llama', dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, norm_eps: 1e-5,
    rope_theta: 10000, shared_classifier: true });

export const PRESETS: Record<string, ModelConfig> = {
  'gpt2-small': gpt2(12, 12, 768, 1024, 50257),
  'gpt2-tiny': gpt2(2, 4, 64, 128, 50257),
  'stories260K': llama(64, 172, 5, 8, 4, 512, 512),
  'stories15M': llama(288, 768, 6, 6, 6, 32000, 256),
  'llama-tiny': llama(32, 64, 2, 4, 2, 64, 64),
};

export function preset(name: string): ModelConfig {
  const c = PRESETS[name];
  if (!c) throw new Error(`unknown preset ${name}; known: ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(c);
}
