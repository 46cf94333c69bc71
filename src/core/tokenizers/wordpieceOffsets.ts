// Offsets of WordPiece tokens (BERT, DistilBERT). Their pieces spell the normalized text without its
// spaces ("Café au" -> "cafe", "au"), so the byte alignment of offsets.ts cannot place them. Here the text
// is normalized one character at a time, keeping for each normalized character the span of the original
// one, and the pieces are matched against that, whitespace skipped between words. A token's span is then
// exactly the original text it stands for: normalizing `text.slice(start, end)` gives the piece ("##"
// removed). Whitespace between words belongs to no token; specials are zero-width unless the text
// spells them out ("[MASK]").
import type { Token } from '../types';

export interface WordPieceRules {
  /** The prefix of pieces that continue a word. */
  prefix: string;
  unk: string | null;
  lowercase: boolean;
  stripAccents: boolean;
  cleanText: boolean;
  chineseChars: boolean;
}

/** The rules of a tokenizer.json whose model is WordPiece; undefined for any other. */
export function wordPieceRules(tokenizerJson: Record<string, unknown>): WordPieceRules | undefined {
  const model = tokenizerJson.model as { type?: string; continuing_subword_prefix?: string; unk_token?: string } | undefined;
  if (model?.type !== 'WordPiece') return undefined;
  const n = tokenizerJson.normalizer as { type?: string; lowercase?: boolean; strip_accents?: boolean | null;
    clean_text?: boolean; handle_chinese_chars?: boolean } | null;
  const bert = n?.type === 'BertNormalizer';
  const lowercase = bert && n.lowercase !== false;
  return {
    prefix: model.continuing_subword_prefix ?? '##',
    unk: model.unk_token ?? null,
    lowercase,
    // BERT's rule: accents go with lowercasing unless strip_accents says otherwise.
    stripAccents: bert && (n.strip_accents ?? lowercase) === true,
    cleanText: bert && n.clean_text !== false,
    chineseChars: bert && n.handle_chinese_chars !== false,
  };
}

const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u;
const MARK = /^\p{M}$/u;
// BERT's pre-tokenizer splits at Unicode punctuation and every ASCII symbol (as transformers.js reads it).
const PUNCTUATION = /^[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]$/u;
const SPACE = /^\s$/u;

/** CJK ideographs get spaces around them. transformers.js tests each UTF-16 unit, so ideographs outside the
 *  Basic Multilingual Plane stay inside their word: so do they here, or the spans would not match its tokens. */
function isChinese(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff);
}

/** One character as the normalizer turns it: possibly nothing, possibly several characters. */
function normalizeChar(ch: string, r: WordPieceRules): string {
  const cp = ch.codePointAt(0)!;
  if (r.cleanText) {
    if (cp === 0 || cp === 0xfffd || (CONTROL.test(ch) && !'\t\n\r'.includes(ch))) return '';
    if (SPACE.test(ch)) return ' ';
  }
  let s = r.chineseChars && isChinese(cp) ? ` ${ch} ` : ch;
  if (r.lowercase) s = s.toLowerCase();
  if (r.stripAccents) s = s.normalize('NFD').replace(/\p{Mn}/gu, '');
  return s;
}

/** Final and medial sigma are one letter to a piece ("ς" in a vocabulary, "σ" from lowercasing "Σ" alone). */
const fold = (s: string) => s.replaceAll('ς', 'σ');

export function wordPieceOffsets(text: string, ids: number[], rules: WordPieceRules,
  opts: { specialIds: Set<number>; pieceText: (id: number) => string }): Token[] {
  // norm[k] came from the original characters text[from[k], to[k]); a dropped combining mark joins the
  // character before it, so a token's span takes the accents of its letters.
  let norm = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let u = 0; u < text.length;) {
    const ch = String.fromCodePoint(text.codePointAt(u)!);
    const out = normalizeChar(ch, rules);
    if (out === '' && MARK.test(ch) && to.length && to[to.length - 1] === u) to.fill(u + ch.length, lastStart(from, to));
    for (let k = 0; k < out.length; k++) { from.push(u); to.push(u + ch.length); }
    norm += out;
    u += ch.length;
  }
  norm = fold(norm);
  let k = 0;
  let end = 0; // the end of the previous token in the original text
  const tokens: Token[] = [];
  const skipSpaces = () => { while (k < norm.length && norm[k] === ' ') k++; };
  const originalAt = (i: number) => (i < from.length ? from[i] : text.length);
  for (const id of ids) {
    const piece = opts.pieceText(id);
    if (opts.specialIds.has(id) && piece !== rules.unk) {
      // Specials are matched in the raw text before normalization: "[MASK]" stands for itself.
      const save = k;
      skipSpaces();
      const at = originalAt(k);
      if (piece.length && text.startsWith(piece, at)) {
        while (k < norm.length && from[k] < at + piece.length) k++;
        tokens.push({ id, text: piece, start: at, end: (end = at + piece.length), special: true });
      } else {
        k = save;
        tokens.push({ id, text: piece, start: end, end, special: true });
      }
      continue;
    }
    const continues = piece.startsWith(rules.prefix) && piece.length > rules.prefix.length;
    if (!continues) skipSpaces();
    const spelled = fold(continues ? piece.slice(rules.prefix.length) : piece);
    const first = k;
    if (piece !== rules.unk && spelled.length && norm.startsWith(spelled, k)) k += spelled.length;
    else k = wordEnd(norm, k); // [UNK], or a piece the text spells otherwise: the rest of the word
    const start = Math.max(end, originalAt(first));
    end = Math.max(start, k > first ? to[k - 1] : start);
    tokens.push({ id, text: piece, start, end, special: opts.specialIds.has(id) });
  }
  return tokens;
}

/** Where the pre-token starting at k ends: one punctuation character, or a run of anything else but spaces. */
function wordEnd(norm: string, k: number): number {
  const charAt = (i: number) => String.fromCodePoint(norm.codePointAt(i)!);
  if (k < norm.length && PUNCTUATION.test(charAt(k))) return k + charAt(k).length;
  let e = k;
  while (e < norm.length && norm[e] !== ' ' && !PUNCTUATION.test(charAt(e))) e += charAt(e).length;
  return Math.max(e, Math.min(k + 1, norm.length));
}

/** The first index of the run of normalized characters that came from the same original character as the last. */
function lastStart(from: number[], to: number[]): number {
  let i = from.length - 1;
  while (i > 0 && from[i - 1] === from[i] && to[i - 1] === to[i]) i--;
  return i;
}
