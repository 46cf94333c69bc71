import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { llama2cTokenizerFiles, readLlama2cTokenizer } from '../../src/core/tokenizers/llama2c';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import { llama2cEncode, readRawPieces } from '../reference/llama2cEncode';
import { storyText, unicodeText } from './tokenizerArbitraries';

const TOK = join(__dirname, '../../vendor/stories260K/tok512.bin');
const buf = readFileSync(TOK);
const raw = readRawPieces(buf);
const files = llama2cTokenizerFiles(readLlama2cTokenizer(buf));
const tokenizer = loadTokenizer(files);
const reference = (s: string) => llama2cEncode(raw.pieces, raw.scores, new TextEncoder().encode(s), true, false);
// Strings tokenizer.json cannot keep apart from llama2.c's reading (see llama2c.ts).
const ordinary = (s: string) => !/<unk>|<s>|<\/s>|\u2581/.test(s);

test('reads tok512.bin: 512 pieces, byte pieces at 3..258, SentencePiece space as " "', () => {
  const tok = readLlama2cTokenizer(buf);
  assert.equal(tok.pieces.length, 512);
  assert.equal(tok.maxTokenLength, 7);
  assert.deepEqual(tok.pieces.slice(0, 4), ['<unk>', '\n<s>\n', '\n</s>\n', '<0x00>']);
  assert.equal(tok.pieces[258], '<0xFF>');
  assert.equal(tok.pieces[259], ' t');
  assert.equal(tok.scores[260], -1);
  assert.throws(() => readLlama2cTokenizer(buf.subarray(0, 101)), /ends inside token|has length/);
  assert.throws(() => readLlama2cTokenizer(buf, 600), /ends inside token/);
  assert.throws(() => readLlama2cTokenizer(buf, 500), /more than the 500 tokens/);
});

test('"Once upon a time" encodes as llama2.c does', () => {
  const ids = tokenizer.encode('Once upon a time');
  assert.deepEqual(ids, reference('Once upon a time'));
  assert.equal(ids[0], 1);
  assert.deepEqual(tokenizer.tokenize('Once upon a time'), ['▁Once', '▁upon', '▁a', '▁time']);
});

test('empty text is just BOS; whitespace, CRLF, emoji and lone surrogates match llama2.c', () => {
  assert.deepEqual(tokenizer.encode(''), [1]);
  for (const s of [' ', '  two  spaces ', 'line\r\nbreak\n', 'naïve café — “ok” 😀👍🏽', 'a\uD800b\uDFFFc', 'e\u0301\u0308']) {
    assert.deepEqual(tokenizer.encode(s), reference(s), JSON.stringify(s));
  }
});

test('tokenizer_config carries bos/eos/unk and no surprises from the tokenizer class', () => {
  assert.equal(tokenizer.bos_token_id, 1);
  assert.equal(tokenizer.eos_token_id, 2);
  assert.equal(tokenizer.unk_token_id, 0);
  assert.deepEqual([...tokenizer.all_special_ids].sort(), [0, 1, 2]);
  assert.equal(tokenizer.decode([1, 403, 407], { skip_special_tokens: true }), 'Once upon');
});

test('property: transformers.js encode == llama2.c encode, and decode(encode(x)) == x', () => {
  const check = (s: string) => {
    const ids = tokenizer.encode(s);
    assert.deepEqual(ids, reference(s));
    const back = new TextDecoder().decode(new TextEncoder().encode(s)); // lone surrogates -> U+FFFD
    assert.equal(tokenizer.decode(ids, { skip_special_tokens: true }), back);
  };
  fc.assert(fc.property(unicodeText.filter(ordinary), check), { seed: 260, numRuns: 300 });
  fc.assert(fc.property(storyText.filter(ordinary), check), { seed: 261, numRuns: 300 });
});

test('a text spelling a special token gets that token (the known difference from llama2.c)', () => {
  assert.deepEqual(tokenizer.encode('Lily<s>'), [1, 317, 1]);
  assert.notDeepEqual(tokenizer.encode('Lily<s>'), reference('Lily<s>'));
});
