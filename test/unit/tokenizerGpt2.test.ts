import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gpt2TokenizerFiles, GPT2_EOT_ID } from '../../src/core/tokenizers/gpt2';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import { storyText, unicodeText } from './tokenizerArbitraries';
// An independent GPT-2 BPE implementation (OpenAI's encoder.py ported to JS).
const gpt3Encoder: { encode(s: string): number[]; decode(ids: number[]): string } = require('gpt-3-encoder');

const tokenizer = loadTokenizer(gpt2TokenizerFiles());

test('GPT-2 specials and config', () => {
  assert.equal(tokenizer.constructor.name, 'GPT2Tokenizer');
  assert.equal(tokenizer.bos_token_id, GPT2_EOT_ID);
  assert.equal(tokenizer.eos_token_id, GPT2_EOT_ID);
  assert.deepEqual(tokenizer.all_special_ids, [GPT2_EOT_ID]);
  assert.deepEqual(tokenizer.encode(''), []);
  assert.deepEqual(tokenizer.encode('Hello world'), [15496, 995]);
});

test('varied text encodes exactly as gpt-3-encoder does', () => {
  for (const s of ['Once upon a time, there was a little girl named Lily.', "It's 3.14159 -- isn't it?\r\n\tx",
    '  leading and trailing  ', 'naïve café 😀 中文 ☃', 'function f(x) { return x * 2; }\n']) {
    assert.deepEqual(tokenizer.encode(s), gpt3Encoder.encode(s), JSON.stringify(s));
  }
});

test('property: encode == gpt-3-encoder, decode(encode(x)) == x (lone surrogates -> U+FFFD)', () => {
  const check = (s: string) => {
    const ids = tokenizer.encode(s);
    assert.deepEqual(ids, gpt3Encoder.encode(s));
    const back = new TextDecoder().decode(new TextEncoder().encode(s));
    assert.equal(ids.length === 0 ? '' : tokenizer.decode(ids), back);
  };
  const plain = (s: string) => !s.includes('<|endoftext|>');
  fc.assert(fc.property(unicodeText.filter(plain), check), { seed: 50256, numRuns: 300 });
  fc.assert(fc.property(storyText, check), { seed: 50257, numRuns: 200 });
});
