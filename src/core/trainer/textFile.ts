// A training text file: read whole, or sampled when very large; binaries, empty files and invalid
// UTF-8 refused with a message. Kept apart from tokenization so that checking a file stays light.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { decodeText } from '../textBytes';

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
    return { text: decodeText(buf, path), bytes: size, note };
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
