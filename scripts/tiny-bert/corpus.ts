// Writes the training text of the tiny BERT: stories that the vendored stories260K writes, sampled at
// temperature 1 from BOS, one per line. stories260K was trained on TinyStories, so these read like them.
// Usage: node --import tsx scripts/tiny-bert/corpus.ts OUT.txt STORIES [SEED-FREE: sampling is not seeded]
import { writeFileSync } from 'node:fs';
import { loadStories260K } from '../../test/unit/stories260K';

async function main() {
  const [out, count = '400'] = process.argv.slice(2);
  if (!out) throw new Error('usage: corpus.ts OUT.txt [STORIES]');
  const { session, close } = await loadStories260K('tl-tiny-bert-corpus-');
  const stories: string[] = [];
  try {
    for (let i = 0; i < Number(count); i++) {
      stories.push((await session.generate('', { maxNewTokens: 256 })).replace(/\s+/g, ' ').trim());
      if (i % 50 === 0) process.stderr.write(`${i} stories\n`);
    }
  } finally {
    await close();
  }
  writeFileSync(out, stories.filter((s) => s.length > 0).join('\n') + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
