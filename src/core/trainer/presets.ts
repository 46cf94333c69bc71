// Sizes of GPTs trained from scratch, as plain data. `toy` and `nanogpt-cpu` match
// bench/torch_gpt_bench.py, the PyTorch peer (nanogpt-cpu is nanoGPT's documented CPU
// shakespeare_char run).
import type { DecoderConfig } from '../models/config';
import { gpt2Config } from '../models/presets';

export interface TrainingPreset { n_layer: number; n_head: number; n_embd: number; block_size: number; batch_size: number }

export const TRAINING_PRESETS: Record<string, TrainingPreset> = {
  toy: { n_layer: 2, n_head: 4, n_embd: 64, block_size: 64, batch_size: 16 },
  'nanogpt-cpu': { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, batch_size: 12 },
};

export function presetConfig(name: string, vocabSize: number): DecoderConfig {
  const p = TRAINING_PRESETS[name];
  if (!p) throw new Error(`unknown preset "${name}" (choose ${Object.keys(TRAINING_PRESETS).join(', ')})`);
  return gpt2Config({ n_layer: p.n_layer, n_head: p.n_head, n_embd: p.n_embd, block_size: p.block_size, vocab_size: vocabSize });
}
