// A stand-in SentencePiece vocabulary of any size, for random-weight Llama models written for speed
// tests when no real tokenizer of that size is at hand: the three specials, the 256 byte pieces, then
// characters and letter groups (with and without a leading space) until the vocabulary is full.
import type { Llama2cTokenizer } from './llama2c';

export function syntheticLlamaTokenizer(vocabSize: number): Llama2cTokenizer {
  const pieces = ['\n<s>\n', '\n</s>\n'];
  pieces.unshift('<unk>');
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const seen = new Set(pieces);
  const add = (p: string) => {
    if (pieces.length < vocabSize && !seen.has(p)) {
      seen.add(p);
      pieces.push(p);
    }
  };
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  add(' ');
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c));
  for (const l of letters) add(` ${l}`);
  for (const l of letters.toUpperCase()) add(` ${l}`);
  for (let size = 2; pieces.length < vocabSize && size <= 4; size++) {
    for (const group of letterGroups(letters, size)) {
      add(group);
      add(` ${group}`);
      if (pieces.length >= vocabSize) break;
    }
  }
  if (pieces.length < vocabSize) throw new Error(`cannot make a ${vocabSize}-piece vocabulary`);
  return { maxTokenLength: 8, pieces, scores: pieces.map((_, i) => -i) };
}

function* letterGroups(letters: string, size: number): Generator<string> {
  if (size === 0) {
    yield '';
    return;
  }
  for (const head of letterGroups(letters, size - 1)) for (const l of letters) yield head + l;
}
