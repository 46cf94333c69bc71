// WordPiece token spans through the public path (ModelSession.load -> tokenize / analyze on a BERT that
// Token Lens wrote): each token covers exactly the text it stands for. The check reads BERT's rules again
// here (drop control characters, lowercase, strip accents) and never calls the offsets code.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { bertConfig, encoderWeightShapes } from '../../src/core/models/encoder';
import { writeEncoderFolder } from '../../src/core/models/encoderFolder';
import { randomTensors } from '../../src/core/models/random';
import { ModelSession } from '../../src/core/runtime/session';
import type { Token } from '../../src/core/types';
import { wordPieceTokenizerFiles, wordPieceVocabulary } from '../../src/core/tokenizers/wordpiece';
import { codeText, storyText, unicodeText } from './tokenizerArbitraries';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-wordpiece-'));
let session: ModelSession;

// Characters of several scripts, and whole words, so that texts mix whole words, pieces and [UNK].
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789.,!?;:\'"()-#{}=/\\<>*&%$@+[]_|~`^ éüßçñαβγδεσςλμπωжлмоё日本語中文ıⅰﬁ';
const WORDS = ['once', 'upon', 'time', 'there', 'little', 'girl', 'named', 'lily', 'loved', 'park', 'happy', 'ball',
  'cafe', 'naive', 'uber', 'const', 'hello', 'mom', 'tree', 'οδος', 'ελληνικα'];

before(async () => {
  const vocab = wordPieceVocabulary(ALPHABET, WORDS);
  const config = bertConfig({ n_layer: 1, n_head: 2, n_embd: 8, block_size: 512, vocab_size: vocab.length });
  const dir = path.join(tmp, 'bert');
  await writeEncoderFolder(dir, { config, weights: randomTensors(encoderWeightShapes(config), 1, 1), tokenizer: wordPieceTokenizerFiles(vocab) });
  session = await ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') });
});
after(async () => {
  await session?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** BERT's uncased reading of a piece of text, character by character. */
function bertReads(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u.test(ch) && !'\t\n\r'.includes(ch))) continue;
    out += /\s/u.test(ch) ? ' ' : ch;
  }
  return out.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').replaceAll('ς', 'σ');
}

function assertWordPieceSpans(text: string, tokens: Token[]): void {
  const where = () => `in ${JSON.stringify(text)}: ${JSON.stringify(tokens.map((t) => [t.text, t.start, t.end]))}`;
  let at = 0;
  for (const t of tokens) {
    assert.ok(t.start >= at && t.end >= t.start && t.end <= text.length, `span of ${JSON.stringify(t)} ${where()}`);
    // What lies between two tokens is space, or characters BERT drops.
    assert.equal(bertReads(text.slice(at, t.start)).trim(), '', `uncovered text before ${JSON.stringify(t)} ${where()}`);
    const covered = text.slice(t.start, t.end);
    if (t.text === '[UNK]') assert.ok(covered.trim().length > 0, `[UNK] covers the word it replaced ${where()}`);
    else if (t.special) assert.ok(t.start === t.end || covered === t.text, `special ${JSON.stringify(t)} ${where()}`);
    else assert.equal(bertReads(covered), t.text.replace(/^##(?=.)/, '').replaceAll('ς', 'σ'), `token ${JSON.stringify(t)} ${where()}`);
    at = t.end;
  }
  assert.equal(bertReads(text.slice(at)).trim(), '', `text left after the last token ${where()}`);
}

const EXAMPLES = [
  'Once upon a time, there was a little girl named Lily.',
  'CAFÉ naïve Über façade', 'e\u0301te\u0301 and a\u0308\u0323', 'ΟΔΟΣ Ελληνικά', 'İstanbul ǅ ﬁne Ⅰ',
  '日本語の中文', 'tabs\tand\nnewlines\r\n  and   spaces', 'ctrl\u0007char\u200bzero width', '\ufffdx\0y',
  'She saw [MASK] ball.', '[MASK][MASK] [mask] [MASK]!', '😀 emoji 👍🏽 unknown', 'a'.repeat(120) + ' long',
  '{"x": 42} // const => x;', '',
];

test('every WordPiece token covers exactly the text it stands for (fixed texts)', () => {
  for (const text of EXAMPLES) assertWordPieceSpans(text, session.tokenize(text));
  // The mask written in the text is the mask token, and covers its spelling.
  const t = session.tokenize('She saw [MASK] ball.');
  const m = t.find((x) => x.id === session.info.maskId)!;
  assert.deepEqual([m.start, m.end], [8, 14]);
  assert.deepEqual(t.map((x) => x.text), ['[CLS]', 's', '##h', '##e', 's', '##a', '##w', '[MASK]', 'ball', '.', '[SEP]']);
});

test('every WordPiece token covers exactly the text it stands for (random texts)', () => {
  fc.assert(fc.property(fc.oneof(storyText, codeText, unicodeText), (text) => {
    assertWordPieceSpans(text, session.tokenize(text));
  }), { numRuns: 300 });
});

test('the analysis keeps those spans, and the hover finds the token under the cursor', async () => {
  const text = 'The little girl named Lily loved the park.';
  const a = await session.analyze(text);
  assertWordPieceSpans(text, a.tokens);
  const lily = a.tokens[a.tokenIndexAt(text.indexOf('Lily') + 1)];
  assert.equal(lily.text, 'lily');
  assert.equal(text.slice(lily.start, lily.end), 'Lily');
});
