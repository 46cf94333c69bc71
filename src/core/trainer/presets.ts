// Model sizes as plain data. `toy` and `nanogpt-cpu` match bench/torch_gpt_bench.py, the PyTorch
// peer (nanogpt-cpu is nanoGPT's documented CPU shakespeare_char run).
import type { GPT2Config } from '../models/config';

export interface Preset { n_layer: number; n_head: number; n_embd: number; block_size: number; batch_size: number }

export const PRESETS: Record<string, Preset> = {
  toy: { n_layer: 2, n_head: 4, n_embd: 64, block_size: 64, batch_size: 16 },
  'nanogpt-cpu': { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, batch_size: 12 },
};

export function presetConfig(name: string, vocabSize: number): GPT2Config {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset "${name}" (choose ${Object.keys(PRESETS).join(', ')})`);
  return { arch: 'gpt2', n_layer: p.n_layer, n_head: p.n_head, n_embd: p.n_embd, block_size: p.block_size,
    vocab_size: vocabSize, layer_norm_eps: 1e-5 };
}
