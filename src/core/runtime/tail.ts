// The last tokens of a long text without tokenizing all of it. A model sees at most its context window,
// so a 2 MB file needs only its tail tokenized: tokenizing the whole of it took ~15 s, and it is
// synchronous work that would freeze the editor.
//
// Tokenizing a slice gives the same tokens as the whole text once past the first few: where the slice
// is cut, a word (or a run of digits, or of spaces) is split, and the tokens near the cut differ. Those
// are dropped: the tokens kept start where the slice and a second slice cut one character later agree
// on several tokens in a row. Two different starts that have fallen into step have forgotten where they
// started, and so has the whole text. When they never agree, the slice grows until it is the whole text.
import type { Token } from '../types';

export interface Tail {
  /** Leading specials the tokenizer adds (BOS), zero-width at offset 0, then the last tokens of the text. */
  tokens: Token[];
  /** How many leading specials `tokens` starts with (0 or 1). */
  lead: number;
  /** True when the whole text was tokenized (and is the whole of it); false when only a tail was. */
  whole: boolean;
  /** Offset in the text where the tokenized slice starts (0 when whole). */
  sliceStart: number;
}

/** A first guess of characters per token, generous so that one slice is usually enough. */
const CHARS_PER_TOKEN = 6;
/** Tokens in a row that two slices must agree on. */
const AGREE = 3;
/** How much of the second slice is tokenized to find where the two agree (a share of the first slice). */
const PROBE_SHARE = 1 / 8;
const MIN_PROBE_CHARS = 256;

/**
 * At least `count` tokens (besides leading specials) from the end of `text`, each as the tokenization
 * of the whole text has it, or all of them when the text has fewer. With `cutAtStart`, `text` is the end
 * of a longer text: the tokens kept are those that the longer text has too. Yields to the event loop between
 * slices, so no one synchronous step tokenizes much more than the window needs.
 */
export async function tailTokens(text: string, count: number, tokenize: (text: string) => Token[], cutAtStart = false): Promise<Tail> {
  let chars = count * CHARS_PER_TOKEN + 256;
  for (;;) {
    // A text that is itself the end of a longer one is cut at its start: its first tokens may be partial.
    if (chars >= text.length && cutAtStart) return (await fromCut(text, 0, tokenize)) ?? { ...wholeText(text, tokenize), whole: false };
    if (chars >= text.length) return wholeText(text, tokenize);
    const cut = codePointStart(text, text.length - chars);
    const found = await fromCut(text, cut, tokenize);
    if (found && found.tokens.length - found.lead >= count) return found;
    chars *= 4;
    await nextTurn();
  }
}

/** Lets the event loop run between two synchronous steps. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function wholeText(text: string, tokenize: (text: string) => Token[]): Tail {
  const tokens = tokenize(text);
  return { tokens, lead: tokens[0]?.special ? 1 : 0, whole: true, sliceStart: 0 };
}

/** The tokens of text[cut:] that agree with the whole text's, or undefined when that is not clear. */
async function fromCut(text: string, cut: number, tokenize: (text: string) => Token[]): Promise<Tail | undefined> {
  const a = shift(tokenize(text.slice(cut)), cut);
  await nextTurn();
  const later = codePointStart(text, cut + 1 + (text.codePointAt(cut)! > 0xffff ? 1 : 0));
  const probe = Math.max(MIN_PROBE_CHARS, Math.round((text.length - cut) * PROBE_SHARE));
  const b = shift(tokenize(text.slice(later, Math.min(text.length, later + probe))), later);
  const leadA = leadingSpecials(a);
  const leadB = leadingSpecials(b);
  // B's last few tokens may be cut at its end; its first (and A's first) may be cut at its start.
  const lastB = b.length - AGREE - 1;
  const startOfB = new Map<number, number>();
  for (let j = leadB + 1; j <= lastB; j++) if (b[j].end > b[j].start && !startOfB.has(b[j].start)) startOfB.set(b[j].start, j);
  for (let i = leadA + 1; i + AGREE <= a.length; i++) {
    if (a[i].start <= later || a[i].start === a[i].end) continue;
    const j = startOfB.get(a[i].start);
    if (j === undefined || j + AGREE > lastB + 1) continue;
    let same = true;
    for (let k = 0; k < AGREE && same; k++) {
      same = a[i + k].id === b[j + k].id && a[i + k].start === b[j + k].start && a[i + k].end === b[j + k].end;
    }
    if (same) {
      const lead = a.slice(0, leadA).map((t) => ({ ...t, start: 0, end: 0 }));
      return { tokens: [...lead, ...a.slice(i)], lead: leadA, whole: false, sliceStart: cut };
    }
  }
  return undefined;
}

function shift(tokens: Token[], by: number): Token[] {
  for (const t of tokens) {
    t.start += by;
    t.end += by;
  }
  return tokens;
}

/** 1 when the tokenizer put a special (BOS) before the slice: zero-width at its start. */
function leadingSpecials(tokens: Token[]): number {
  return tokens[0]?.special && tokens[0].start === tokens[0].end ? 1 : 0;
}

/** Moves an offset back off the low half of a surrogate pair. */
function codePointStart(text: string, offset: number): number {
  const o = Math.max(0, Math.min(text.length, offset));
  const c = text.charCodeAt(o);
  return o > 0 && c >= 0xdc00 && c <= 0xdfff && /[\ud800-\udbff]/.test(text[o - 1]) ? o - 1 : o;
}
