// Builds the tiny BERT's WordPiece tokenizer from the corpus (every character, and the most frequent words
// whole) into OUT_DIR, and writes the corpus as token ids for train.py: little-endian uint16, one story per
// line of the text, each story [CLS] ... [SEP].
// Usage: node --import tsx scripts/tiny-bert/prepare.ts CORPUS.txt OUT_DIR IDS.bin [WORDS]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { transformers } from '../../src/core/runtime/transformers';
import { wordPieceTokenizerFiles, wordPieceVocabulary } from '../../src/core/tokenizers/wordpiece';

export const REFERENCE_TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play in the [MASK] with her mom.';

async function main() {
  const [corpus, out, idsFile, words = '1500'] = process.argv.slice(2);
  if (!idsFile) throw new Error('usage: prepare.ts CORPUS.txt OUT_DIR IDS.bin [WORDS]');
  const text = readFileSync(corpus, 'utf8');
  const counts = new Map<string, number>();
  for (const w of text.toLowerCase().match(/\p{L}+/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  const frequent = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, Number(words)).map(([w]) => w);
  const vocab = wordPieceVocabulary(text, frequent);
  const files = wordPieceTokenizerFiles(vocab);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'vocab.txt'), vocab.join('\n') + '\n');
  writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(files.tokenizer, null, 2) + '\n');
  writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  const { AutoTokenizer, env } = await transformers();
  env.allowLocalModels = true;
  const tokenizer = await AutoTokenizer.from_pretrained(resolve(out), { local_files_only: true });
  const ids: number[] = [];
  for (const story of text.split('\n').filter((l) => l.trim())) ids.push(...(tokenizer.encode(story) as number[]));
  writeFileSync(idsFile, Buffer.from(Uint16Array.from(ids).buffer));
  // The sentence train.py writes PyTorch's reference outputs for (the test reads them back).
  writeFileSync(`${idsFile}.reference.json`, JSON.stringify({ text: REFERENCE_TEXT, ids: tokenizer.encode(REFERENCE_TEXT) }));
  process.stderr.write(`${vocab.length} pieces, ${ids.length} tokens\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
