// Which part of the text each token stands for, as UTF-16 offsets (what editors and webviews use).
//
// The bytes of the tokens, concatenated, are aligned with the UTF-8 bytes of the text. A character
// belongs to the token that holds its first byte: a token that starts inside a character starts at the
// end of that character, and is zero-width when it ends inside it too (e.g. the 2nd..4th byte-fallback
// tokens of an emoji). Specials are zero-width. So the spans always partition the text: each within it,
// in order, never overlapping, together the whole text.
import type { Token } from '../types';
import { type NormalizationForm, normalizationOf, normalizeWithMap } from './normalization';
import { type WordPieceRules, wordPieceOffsets, wordPieceRules } from './wordpieceOffsets';

/** Bytes of a token; `dummyPrefix` when the tokenizer puts a space before the text (SentencePiece);
 *  `normalization` when it normalizes Unicode first (the tokens spell the normalized text);
 *  `wordPiece` for WordPiece tokenizers, whose pieces leave the spaces out (placed by wordpieceOffsets.ts). */
export type TokenBytes = ((id: number) => Uint8Array) & { dummyPrefix?: boolean; normalization?: NormalizationForm;
  wordPiece?: WordPieceRules };

const EMPTY = new Uint8Array(0);
const SPACE = '\u2581';
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/** GPT-2's reversible map from bytes to printable characters (the byte-level BPE alphabet). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map: string[] = new Array(256);
  for (const b of bs) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  return map;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number> | [string, number][]; unk_token?: string | null; byte_fallback?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  decoder?: unknown;
  pre_tokenizer?: unknown;
  normalizer?: unknown;
}

/** id -> vocabulary string, added tokens included. */
export function idToPiece(tokenizerJson: Record<string, unknown>): string[] {
  const tj = tokenizerJson as TokenizerJson;
  const pieces: string[] = [];
  const vocab = tj.model?.vocab ?? {};
  if (Array.isArray(vocab)) vocab.forEach(([p], i) => (pieces[i] = p));
  else for (const [p, id] of Object.entries(vocab)) pieces[id] = p;
  for (const t of tj.added_tokens ?? []) pieces[t.id] = t.content;
  return pieces;
}

/** Ids of special tokens: added tokens marked special, and the model's unknown token. */
export function specialIdsOf(tokenizerJson: Record<string, unknown>): Set<number> {
  const tj = tokenizerJson as TokenizerJson;
  const ids = new Set((tj.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  const unk = tj.model?.unk_token;
  if (unk != null) {
    const id = idToPiece(tokenizerJson).indexOf(unk);
    if (id >= 0) ids.add(id);
  }
  return ids;
}

function mentions(json: unknown, needle: string): boolean {
  return json != null && JSON.stringify(json).includes(needle);
}

/** The exact bytes each token stands for; empty for specials and unknown ids. */
export function tokenBytes(tokenizerJson: Record<string, unknown>): TokenBytes {
  const tj = tokenizerJson as TokenizerJson;
  const pieces = idToPiece(tokenizerJson);
  const special = specialIdsOf(tokenizerJson);
  const byteLevel = mentions(tj.decoder, '"ByteLevel"') || mentions(tj.pre_tokenizer, '"ByteLevel"');
  const metaspace = !byteLevel && mentions(tj.decoder, SPACE);
  const byteFallback = tj.model?.byte_fallback === true;
  let unicodeToByte: Map<string, number> | null = null;
  if (byteLevel) unicodeToByte = new Map(bytesToUnicode().map((c, b) => [c, b]));

  const dummyPrefix = mentions(tj.normalizer, '"Prepend"') || /"(add_prefix_space|prepend_scheme)":\s*(true|"always"|"first")/.test(JSON.stringify(tj.pre_tokenizer ?? null));
  const cache = new Map<number, Uint8Array>();
  const compute = (id: number): Uint8Array => {
    const p = pieces[id];
    if (p === undefined || special.has(id)) return EMPTY;
    if (unicodeToByte) {
      const out: number[] = [];
      for (const c of p) {
        const b = unicodeToByte.get(c);
        if (b === undefined) return utf8.encode(p); // an added token spelled in plain text
        out.push(b);
      }
      return Uint8Array.from(out);
    }
    const m = byteFallback ? BYTE_PIECE.exec(p) : null;
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return utf8.encode(metaspace ? p.replaceAll(SPACE, ' ') : p);
  };
  const bytesOf: TokenBytes = (id) => {
    let b = cache.get(id);
    if (!b) cache.set(id, (b = compute(id)));
    return b;
  };
  bytesOf.dummyPrefix = dummyPrefix;
  bytesOf.normalization = normalizationOf(tj.normalizer);
  bytesOf.wordPiece = wordPieceRules(tokenizerJson);
  return bytesOf;
}

/** UTF-8 bytes of a JS string (lone surrogates as U+FFFD) and, per byte, the UTF-16 span of its character. */
function textBytes(text: string): { bytes: Uint8Array; charStart: Int32Array; charEnd: Int32Array } {
  const bytes = utf8.encode(text); // TextEncoder writes lone surrogates as EF BF BD, as tokenizers do
  const charStart = new Int32Array(bytes.length);
  const charEnd = new Int32Array(bytes.length);
  let b = 0;
  for (let u = 0; u < text.length; ) {
    const c = text.codePointAt(u)!;
    const units = c > 0xffff ? 2 : 1;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) {
      charStart[b + k] = u;
      charEnd[b + k] = u + units;
    }
    b += n;
    u += units;
  }
  return { bytes, charStart, charEnd };
}

function equalAt(a: Uint8Array, offset: number, b: Uint8Array, from = 0): boolean {
  if (offset < 0 || offset + b.length - from > a.length) return false;
  for (let i = from; i < b.length; i++) if (a[offset + i - from] !== b[i]) return false;
  return true;
}

/** Renders bytes as text, or as <0xAB> pieces when they are not valid UTF-8 on their own. */
export function bytesText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return Array.from(bytes, (b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
  }
}

// How far ahead to look for where the text and the tokens agree again after they differ.
const RESYNC_WINDOW = 256;

/**
 * Byte spans of the tokens in the text's UTF-8. Tokens are matched in order; a leading space that the
 * text lacks (SentencePiece's dummy prefix, also after a special token) maps to nothing. Where tokens and
 * text differ (an unknown token, a special spelled out in the text, a normalizer's change), the tokens up
 * to the next one found again in the text share the bytes in between, a character each as far as it goes.
 */
function byteSpans(txt: Uint8Array, parts: Uint8Array[], special: boolean[], literal: Uint8Array[]): [number, number][] {
  const n = parts.length;
  const spans: [number, number][] = new Array(n);
  // The number of leading bytes of part i to ignore when it matches at text byte c (0 or 1), or -1.
  const matchAt = (i: number, c: number): number => {
    const b = parts[i];
    if (equalAt(txt, c, b)) return 0;
    if (b[0] === 0x20 && b.length > 1 && equalAt(txt, c, b, 1)) return 1;
    return -1;
  };
  const nextReal = (i: number) => {
    let j = i;
    while (j < n && parts[j].length === 0) j++;
    return j;
  };
  let c = 0;
  let i = 0;
  while (i < n) {
    if (parts[i].length > 0) {
      const skip = matchAt(i, c);
      if (skip >= 0) {
        spans[i] = [c, c + parts[i].length - skip];
        c = spans[i][1];
        i++;
        continue;
      }
    } else {
      const j = nextReal(i);
      if (j === n ? c === txt.length : matchAt(j, c) >= 0) {
        spans[i++] = [c, c];
        continue;
      }
      if (special[i] && literal[i].length > 0 && equalAt(txt, c, literal[i])) {
        spans[i] = [c, c + literal[i].length];
        c = spans[i][1];
        i++;
        continue;
      }
    }
    // Tokens i..j-1 disagree with the text: find where token j matches again.
    let j = i + 1;
    let e = -1;
    for (; j < n; j++) {
      if (parts[j].length === 0) continue;
      const limit = Math.min(txt.length, c + RESYNC_WINDOW + (j - i) * 8);
      for (let at = c; at <= limit && e < 0; at++) if (matchAt(j, at) >= 0) e = at;
      if (e >= 0) break;
    }
    if (e < 0) e = txt.length;
    share(i, Math.min(j, n), c, e);
    c = e;
    i = Math.min(j, n);
  }
  return spans;

  function share(from: number, to: number, c0: number, c1: number) {
    // A character each, in order; the last one takes whatever remains.
    let at = c0;
    for (let k = from; k < to; k++) {
      let end = at;
      if (k === to - 1) end = c1;
      else if (at < c1) {
        end = at + 1;
        while (end < c1 && (txt[end] & 0xc0) === 0x80) end++;
      }
      spans[k] = [at, end];
      at = end;
    }
  }
}

/** Tokens with UTF-16 spans that partition `text`. Never throws for ids the tokenizer produced. */
export function tokenOffsets(
  text: string,
  ids: number[],
  bytesOf: TokenBytes,
  opts: { specialIds: Set<number>; pieceText: (id: number) => string },
): Token[] {
  if (bytesOf.wordPiece) return wordPieceOffsets(text, ids, bytesOf.wordPiece, opts);
  const map = bytesOf.normalization ? normalizeWithMap(text, bytesOf.normalization) : undefined;
  if (!map) return spansIn(text, ids, bytesOf, opts);
  return spansIn(map.normalized, ids, bytesOf, opts).map((t) => {
    const start = map.toOriginal(t.start);
    return { ...t, start, end: Math.max(start, map.toOriginal(t.end)) };
  });
}

function spansIn(
  text: string,
  ids: number[],
  bytesOf: TokenBytes,
  opts: { specialIds: Set<number>; pieceText: (id: number) => string },
): Token[] {
  const { bytes: txt, charStart, charEnd } = textBytes(text);
  const special = ids.map((id) => opts.specialIds.has(id));
  const parts = ids.map((id, i) => (special[i] ? EMPTY : bytesOf(id)));
  const literal = ids.map((id, i) => (special[i] ? utf8.encode(opts.pieceText(id)) : EMPTY));
  // The dummy-prefix space is not in the text. (Without it known, matching still skips a leading
  // space the text lacks, but cannot tell which of two spaces was the dummy.)
  const first = parts.findIndex((p) => p.length > 0);
  if (bytesOf.dummyPrefix && first >= 0 && parts[first][0] === 0x20) parts[first] = parts[first].subarray(1);
  const spans = byteSpans(txt, parts, special, literal);
  // The last token that covers anything also covers the end of the text.
  for (let i = spans.length - 1; i >= 0; i--) {
    if (spans[i][1] > spans[i][0] || i === 0) {
      for (let k = i; k < spans.length; k++) spans[k][1] = txt.length;
      for (let k = i + 1; k < spans.length; k++) spans[k][0] = txt.length;
      break;
    }
  }
  // The character boundary at or after text byte b, as a UTF-16 offset.
  const boundary = (b: number): number => {
    if (b >= txt.length) return text.length;
    return b > 0 && charStart[b] === charStart[b - 1] ? charEnd[b] : charStart[b];
  };
  return ids.map((id, i) => {
    const start = boundary(spans[i][0]);
    const end = Math.max(start, boundary(spans[i][1]));
    const bytes = bytesOf(id);
    const shown = special[i] || bytes.length === 0 ? opts.pieceText(id) : bytesText(bytes);
    return { id, text: shown, start, end, special: special[i] };
  });
}

/** Index of the token whose span covers a UTF-16 offset of the text; the last one starting before it otherwise. */
export function tokenIndexAt(tokens: readonly Token[], offset: number): number {
  let found = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    // [CLS], [SEP] and BOS take no text; a special token the text spells out (a masked model's blank) does.
    if (t.special && t.end <= t.start) continue;
    if (t.start <= offset) found = i;
    if (offset < t.end) break;
  }
  return found;
}
