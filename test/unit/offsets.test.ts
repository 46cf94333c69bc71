import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Token } from '../../src/core/types';
import { llama2cTokenizerFiles, readLlama2cTokenizer } from '../../src/core/tokenizers/llama2c';
import { gpt2TokenizerFiles } from '../../src/core/tokenizers/gpt2';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import type { TokenizerFiles } from '../../src/core/tokenizers/types';
import { bytesToUnicode, idToPiece, specialIdsOf, tokenBytes, tokenOffsets } from '../../src/core/tokenizers/offsets';
import { storyText, unicodeText } from './tokenizerArbitraries';

const TOK = join(__dirname, '../../vendor/stories260K/tok512.bin');

function setup(files: TokenizerFiles) {
  const tok = loadTokenizer(files);
  const bytes = tokenBytes(files.tokenizer);
  const pieces = idToPiece(files.tokenizer);
  const opts = { specialIds: specialIdsOf(files.tokenizer), pieceText: (id: number) => pieces[id] };
  return {
    tok,
    bytes,
    offsets: (text: string, ids = tok.encode(text)) => tokenOffsets(text, ids, bytes, opts),
  };
}
const llama = setup(llama2cTokenizerFiles(readLlama2cTokenizer(readFileSync(TOK))));
const gpt2 = setup(gpt2TokenizerFiles());
const wellFormed = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));

function assertPartition(text: string, tokens: Token[]) {
  let at = 0;
  for (const t of tokens) {
    assert.ok(t.start === at, `token ${JSON.stringify(t)} should start at ${at}`);
    assert.ok(t.end >= t.start && t.end <= text.length, `bad span ${JSON.stringify(t)}`);
    at = t.end;
  }
  // Any token list covers the whole text (an empty one covers nothing).
  if (tokens.length > 0) assert.equal(at, text.length);
  assert.equal(tokens.map((t) => text.slice(t.start, t.end)).join(''), tokens.length > 0 ? text : '');
}

/** Where the token bytes and the text agree, every token that is whole characters covers exactly them.
 *  With a dummy prefix, the first real token's leading space is not in the text. */
function assertExact(text: string, tokens: Token[], dummyPrefix: boolean) {
  let first = true;
  for (const t of tokens) {
    if (t.special) {
      assert.equal(t.start, t.end);
      continue;
    }
    if (!/<0x[0-9A-F]{2}>/.test(t.text)) {
      const want: string = first && dummyPrefix ? t.text.replace(/^ /, '') : t.text;
      assert.equal(wellFormed(text.slice(t.start, t.end)), want, `token ${JSON.stringify(t)} in ${JSON.stringify(text)}`);
    }
    first = false;
  }
}

test('stories260K tokens of "Once upon a time" and of an emoji', () => {
  const spans = (s: string) => llama.offsets(s).map((t) => [t.text, t.start, t.end, t.special]);
  assert.deepEqual(spans('Once upon a time'), [
    ['<s>', 0, 0, true], [' Once', 0, 4, false], [' upon', 4, 9, false], [' a', 9, 11, false], [' time', 11, 16, false],
  ]);
  // ☃ is E2 98 83, three byte-fallback tokens: the first holds the character, the rest are empty at its end.
  assert.deepEqual(spans('a☃'), [
    ['<s>', 0, 0, true], [' a', 0, 1, false], ['<0xE2>', 1, 2, false], ['<0x98>', 2, 2, false], ['<0x83>', 2, 2, false],
  ]);
  // A lone surrogate is U+FFFD to the tokenizer and one UTF-16 unit in the text.
  assert.deepEqual(spans('\uD800!').slice(1), [[' ', 0, 0, false], ['<0xEF>', 0, 1, false], ['<0xBF>', 1, 1, false], ['<0xBD>', 1, 1, false], ['!', 1, 2, false]]);
  // A text that starts with a space: the dummy prefix is the extra space.
  assert.deepEqual(spans(' a').slice(1), [[' ', 0, 0, false], [' a', 0, 2, false]]);
});

test('GPT-2 spans: byte-level pieces, partial characters shown as bytes', () => {
  const spans = (s: string) => gpt2.offsets(s).map((t) => [t.text, t.start, t.end]);
  assert.deepEqual(spans('Hello world'), [['Hello', 0, 5], [' world', 5, 11]]);
  assert.deepEqual(spans(' ☃'), [['<0x20><0xE2><0x98>', 0, 2], ['<0x83>', 2, 2]]);
  assert.deepEqual(Array.from(gpt2.bytes(220)), [0x20]);
  assert.equal(bytesToUnicode()[0x20], 'Ġ');
});

test('property: spans partition the text and match the token bytes exactly (stories260K, GPT-2)', () => {
  const ordinary = (s: string) => !/<unk>|<s>|<\/s>|<\|endoftext\|>|\u2581/.test(s);
  for (const [arb, seed] of [[unicodeText, 1], [storyText, 2]] as const) {
    fc.assert(
      fc.property(arb.filter(ordinary), (text) => {
        const a = llama.offsets(text);
        assertPartition(text, a);
        assertExact(text, a, true);
        const b = gpt2.offsets(text);
        assertPartition(text, b);
        assertExact(text, b, false);
      }),
      { seed, numRuns: 250 },
    );
  }
});

test('character tokenizer: one character per token, <unk> takes the unseen character', () => {
  const chars = setup(charTokenizerFiles(charVocabulary('hello world')));
  const tokens = chars.offsets('hé😀lo');
  assert.deepEqual(tokens.map((t) => [t.text, t.start, t.end]), [['h', 0, 1], ['<unk>', 1, 2], ['<unk>', 2, 4], ['l', 4, 5], ['o', 5, 6]]);
  fc.assert(
    fc.property(unicodeText, unicodeText, (train, text) => {
      const c = setup(charTokenizerFiles(charVocabulary(train)));
      const tokens = c.offsets(text);
      assertPartition(text, tokens);
      tokens.forEach((t, i) => assert.equal(text.slice(t.start, t.end), Array.from(text)[i]));
    }),
    { seed: 3, numRuns: 200 },
  );
});

test('when tokens and text disagree, spans are still a partition and nothing throws', () => {
  // Special tokens spelled out in the text, U+2581, and tokens of a different (normalized) text.
  for (const text of ['Lily<s>and</s>Tom<unk>', 'a\u2581b ▁ c', 'x<|endoftext|>y']) {
    assertPartition(text, llama.offsets(text));
    assertPartition(text, gpt2.offsets(text));
  }
  const t = llama.offsets('Lily<s>x');
  assert.deepEqual(t.map((x) => [x.id, x.start, x.end]), [[1, 0, 0], [317, 0, 4], [1, 4, 7], [410, 7, 7], [444, 7, 8]]);
  fc.assert(
    fc.property(unicodeText, unicodeText, (text, other) => {
      assertPartition(text, llama.offsets(text, llama.tok.encode(other)));
      assertPartition(text, gpt2.offsets(text, gpt2.tok.encode(text.toLowerCase())));
    }),
    { seed: 4, numRuns: 200 },
  );
});
