// Text generators shared by the tokenizer and offsets property tests.
import fc from 'fast-check';

const pick = <T>(xs: T[]) => fc.constantFrom(...xs);

/** Random Unicode with the awkward parts over-represented: CRLF, emoji (with modifiers and ZWJ),
 *  combining marks, lone surrogates, NUL and control characters. */
export const unicodeText: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
      { weight: 3, arbitrary: pick(['\r\n', '\n', '\t', ' ', '  ', '\0', '\u0007', '\u00a0', '\u200b']) },
      { weight: 2, arbitrary: pick(['😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '☃', '€', '—', '“', '”', '…', 'é', '中文', 'ı']) },
      { weight: 2, arbitrary: pick(['e\u0301', 'a\u0308\u0323', '\u0301', 'n\u0303']) },
      { weight: 1, arbitrary: pick(['\uD800', '\uDBFF', '\uDC00', '\uDFFF', 'x\uD83D', '\uDE00y']) },
      { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 8 }) },
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const words = ['Once', 'upon', 'a', 'time', 'there', 'was', 'little', 'girl', 'named', 'Lily', 'She', 'loved',
  'to', 'play', 'outside', 'in', 'the', 'park', 'Tom', 'and', 'his', 'dog', 'Max', 'happy', 'sad', 'big', 'red',
  'ball', "didn't", "It's", 'said', '"Hello!"', 'mom', 'tree', 'sun', '42', 'isn\'t'];
const marks = [' ', ' ', ' ', ' ', ', ', '. ', '! ', '? ', '\n', '\n\n', '\r\n', '  ', ' - '];

/** ASCII-heavy story-like text. */
export const storyText: fc.Arbitrary<string> = fc
  .array(fc.tuple(pick(words), pick(marks)), { maxLength: 30 })
  .map((ws) => ws.map(([w, m]) => w + m).join(''));

const codeBits = ['const', 'x', '=', '42', '3.14', '1234567', '(', ')', '{', '}', '//', ' ', '  ', '    ', '\t', '\n', '\r\n',
  '\n\n', "'s", "'LL", "n't", '"', '->', '=>', '...', 'café', 'naïve', 'über', '日本語', 'Ελληνικά', '😀', '\u00a0', '\u3000'];

/** Code-like text: numbers of every length, contractions, runs of spaces and newlines, mixed scripts: what
 *  the pre-tokenizer regexes of byte-level BPE (GPT-2, Llama 3, Qwen) split on. */
export const codeText: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 5, arbitrary: pick(codeBits) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 3 }) }), { maxLength: 24 })
  .map((parts) => parts.join(''));
