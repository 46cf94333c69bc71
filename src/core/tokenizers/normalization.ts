// Tokenizers that normalize Unicode (Qwen's NFC, others' NFKC) tokenize a different string than the
// document holds: "e" + U+0301 becomes "é". Offsets are found in the normalized text, then mapped back.
export type NormalizationForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

const FORMS = new Set<string>(['NFC', 'NFD', 'NFKC', 'NFKD']);

/** The Unicode normalization a tokenizer.json applies (alone or inside a Sequence), if any. */
export function normalizationOf(normalizer: unknown): NormalizationForm | undefined {
  const n = normalizer as { type?: string; normalizers?: unknown[] } | null | undefined;
  if (!n) return undefined;
  if (n.type && FORMS.has(n.type)) return n.type as NormalizationForm;
  for (const inner of n.normalizers ?? []) {
    const form = normalizationOf(inner);
    if (form) return form;
  }
  return undefined;
}

// A code point that may combine with what precedes it: marks, Hangul medial/final jamo, kana voicing marks.
const COMBINES = /^[\p{M}\u1160-\u11ff\u3099\u309a\uff9e\uff9f]/u;

/**
 * The normalized text, and a map from its UTF-16 offsets to the original's; undefined when the text is
 * already normalized. The text is cut into pieces that normalize independently (a cut before every
 * code point that cannot combine with the previous one); an offset inside a piece's normalized form
 * maps to the end of that piece, as a token starting inside a character starts after it.
 */
export function normalizeWithMap(text: string, form: NormalizationForm): { normalized: string; toOriginal: (offset: number) => number } | undefined {
  const normalized = text.normalize(form);
  if (normalized === text) return undefined;
  const origStarts: number[] = [];
  const normStarts: number[] = [];
  let out = '';
  let pieceStart = 0;
  const flush = (end: number) => {
    if (end === pieceStart) return;
    origStarts.push(pieceStart);
    normStarts.push(out.length);
    out += text.slice(pieceStart, end).normalize(form);
    pieceStart = end;
  };
  for (let u = 0; u < text.length; ) {
    const units = text.codePointAt(u)! > 0xffff ? 2 : 1;
    if (u > 0 && !COMBINES.test(text.slice(u, u + units))) flush(u);
    u += units;
  }
  flush(text.length);
  // Composition across a cut (rare: characters outside the list above) makes the pieces disagree.
  if (out !== normalized) return undefined;
  origStarts.push(text.length);
  normStarts.push(normalized.length);
  const toOriginal = (offset: number): number => {
    let lo = 0;
    let hi = normStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (normStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return normStarts[lo] === offset ? origStarts[lo] : origStarts[Math.min(lo + 1, origStarts.length - 1)];
  };
  return { normalized, toOriginal };
}
