// Where a server's tokens are in the text. `text_offset` counts code points over the tokens' own texts,
// so it drifts from the text wherever a token's text is not the text's (BOS's "<s>", the first word's
// SentencePiece space, byte pieces of one character). Each token is placed where the text has its
// text, searching from the end of the previous one; the tokens the text does not spell (specials, byte
// pieces) are zero-width at the end of the token before them, or share the characters no token spelled.
import type { Token } from '../../types';

export interface Aligned {
  tokens: Token[];
  /** Tokens the text does not spell as they are (specials excluded): their offsets are inferred. */
  unaligned: number;
}

const LOOKAHEAD = 64;

export function alignTokens(text: string, pieces: string[], ids: number[], isSpecial: (t: number) => boolean): Aligned {
  const tokens: Token[] = [];
  let pos = 0;
  let unaligned = 0;
  let pending: number[] = [];
  const place = (t: number, start: number, end: number, special = false) => {
    tokens[t] = { id: ids[t], text: pieces[t], start, end, special };
  };
  const flush = (upTo: number) => {
    // Tokens with no text of their own before `upTo`: the first takes the characters in between.
    pending.forEach((t, j) => place(t, j === 0 ? pos : upTo, upTo));
    pos = upTo;
    pending = [];
  };
  pieces.forEach((piece, t) => {
    if (isSpecial(t)) return place(t, pos, pos, true);
    const found = findFrom(text, piece, pos, pending.length ? LOOKAHEAD : 0);
    if (found) {
      flush(found.at);
      place(t, found.at, found.at + found.length);
      pos = found.at + found.length;
    } else {
      unaligned++;
      pending.push(t);
    }
  });
  flush(pending.length ? text.length : pos);
  return { tokens, unaligned };
}

/** The piece at `from` (or within `lookahead` characters after it); a leading space the text lacks at
 *  the start of a word counts as the tokenizer's prefix space. */
function findFrom(text: string, piece: string, from: number, lookahead: number): { at: number; length: number } | undefined {
  const variants = [piece, ...(/^[ \u2581]/.test(piece) ? [piece.slice(1)] : [])].map((p) => p.replace(/\u2581/g, ' '));
  for (let at = from; at <= Math.min(text.length, from + lookahead); at++) {
    for (const v of variants) {
      if (v.length && text.startsWith(v, at)) return { at, length: v.length };
    }
  }
  return undefined;
}
