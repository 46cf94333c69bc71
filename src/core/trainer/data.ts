// Training data from one text file: read (refusing binaries), tokenize, split, and draw batches.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import type { TokenizerFiles } from '../tokenizers/types';
import { charTokenizerFiles, charVocabulary } from '../tokenizers/chars';
import { loadTokenizer } from '../tokenizers/load';
import { Rng } from './rng';

/** Files above this are sampled: evenly spaced pieces adding up to this many bytes. */
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;
const PIECES = 64;

export class DataError extends Error {}

export interface TextFile { text: string; bytes: number; note?: string }

export function readTextFile(path: string, maxBytes = MAX_TEXT_BYTES): TextFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`The training file ${path} does not exist.`);
    if (code === 'EISDIR') throw new DataError(`The training path ${path} is a folder, not a file.`);
    throw new DataError(`Cannot read the training file ${path}: ${(e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (fstatSync(fd).isDirectory()) throw new DataError(`The training path ${path} is a folder, not a file.`);
    let buf: Uint8Array, note: string | undefined;
    if (size <= maxBytes) {
      buf = read(fd, 0, size);
    } else {
      // Evenly spaced pieces see the whole file; each starts and ends on a character boundary.
      const piece = Math.floor(maxBytes / PIECES);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < PIECES; i++) {
        const at = Math.floor((i * (size - piece)) / (PIECES - 1));
        parts.push(trimToChars(read(fd, at, piece)));
      }
      buf = concatBytes(parts, 0x0a);
      note = `${path} is ${mb(size)}: training on ${PIECES} evenly spaced samples (${mb(buf.length)}).`;
    }
    if (size === 0 || buf.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) {
      throw new DataError(`The training file ${path} is empty: there is nothing to learn from.`);
    }
    if (buf.includes(0)) throw new DataError(`${path} looks like a binary file (it contains NUL bytes): train on text or code.`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      throw new DataError(`${path} is not valid UTF-8 text: train on text or code saved as UTF-8.`);
    }
    return { text, bytes: size, note };
  } finally {
    closeSync(fd);
  }
}

function read(fd: number, at: number, n: number): Uint8Array {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, buf, got, n - got, at + got);
    if (r === 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/** Drops partial UTF-8 sequences at both ends of a slice. */
function trimToChars(b: Uint8Array): Uint8Array {
  let s = 0;
  while (s < b.length && (b[s] & 0xc0) === 0x80) s++;
  let e = b.length;
  let back = e - 1;
  while (back > s && (b[back] & 0xc0) === 0x80) back--;
  if (back >= s) {
    const lead = b[back];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (back + need > e) e = back;
  }
  return b.subarray(s, e);
}

function concatBytes(parts: Uint8Array[], sep: number): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; out[o++] = sep; }
  return out;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

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
