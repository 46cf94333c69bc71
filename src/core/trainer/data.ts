// Training data from one text file: read (refusing binaries), tokenize, split, and draw batches.
import type { TokenizerFiles } from '../tokenizers/types';
import { charTokenizerFiles, charVocabulary } from '../tokenizers/chars';
import { loadTokenizer } from '../tokenizers/load';
import { Rng } from './rng';
import { DataError } from './textFile';

export { DataError, MAX_TEXT_BYTES, readTextFile, type TextFile } from './textFile';

export interface Encoded { ids: Int32Array; tokenizer: TokenizerFiles; vocabSize: number }

/** From scratch: one token per character of this text (plus <unk>). */
export function encodeChars(text: string): Encoded {
  const chars = charVocabulary(text);
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(Array.from(text), (c) => index.get(c)!);
  return { ids, tokenizer: charTokenizerFiles(chars), vocabSize: chars.length + 1 };
}

/** With a model's own tokenizer. Long texts are encoded in line-aligned chunks to keep encoding linear. */
export function encodeWithTokenizer(text: string, files: TokenizerFiles, vocabSize: number): Encoded {
  const tok = loadTokenizer(files);
  const chunks: string[] = [];
  const CHUNK = 4000;
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + CHUNK);
    const nl = text.lastIndexOf('\n', end);
    if (end < text.length && nl > at) end = nl + 1;
    chunks.push(text.slice(at, end));
    at = end;
  }
  const ids: number[] = [];
  chunks.forEach((c, i) => ids.push(...(tok.encode(c, { add_special_tokens: i === 0 }) as number[])));
  const bad = ids.find((i) => i < 0 || i >= vocabSize);
  if (bad !== undefined) throw new DataError(`The tokenizer produced id ${bad}, outside the model's vocabulary of ${vocabSize}.`);
  return { ids: Int32Array.from(ids), tokenizer: files, vocabSize };
}

export interface Splits { train: Int32Array; val: Int32Array; note?: string }

/** The last `valFraction` of the tokens for validation, when both parts can hold a window of block+1. */
export function splitTokens(ids: Int32Array, block: number, valFraction = 0.1): Splits {
  const cut = Math.floor(ids.length * (1 - valFraction));
  if (ids.length - cut >= block + 1 && cut >= block + 1) return { train: ids.subarray(0, cut), val: ids.subarray(cut) };
  return { train: ids, val: ids, note: 'The text is too short to hold out a validation part: validation loss is measured on the training text.' };
}

/** B random windows of T+1 tokens: inputs and next-token targets, each flattened to [B*T]. */
export function getBatch(data: Int32Array, B: number, T: number, rng: Rng): { idx: BigInt64Array; targets: BigInt64Array } {
  if (data.length < T + 1) throw new DataError(`Need at least ${T + 1} tokens for a block of ${T}, have ${data.length}.`);
  const idx = new BigInt64Array(B * T), targets = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    const at = rng.int(data.length - T);
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(data[at + t]);
      targets[b * T + t] = BigInt(data[at + t + 1]);
    }
  }
  return { idx, targets };
}
