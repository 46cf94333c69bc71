// Which text to analyse, decided from plain strings and offsets so it can be tested without an editor.
import type { AnalysisWindow } from '../core/types';

/** `text` starts at document offset `start`; `cut` characters of the target before it were left out. */
export type ExplainTarget = { text: string; start: number; cut: number } | { problem: string };

/** Reads the document's text between two offsets. */
export type TextReader = (start: number, end: number) => string;

export const readerOf = (doc: string): TextReader => (start, end) => doc.slice(start, end);

/**
 * A model reads at most its context window, and tokens are rarely longer than this many characters: the
 * text Explain takes before the cursor. More would only be copied around (a 2 MB file into the panel).
 */
export const CHARS_PER_CONTEXT_TOKEN = 32;

/** A document with NUL characters is binary: its "text" is not language. */
export function isBinaryText(text: string): boolean {
  return text.includes('\u0000');
}

/**
 * The selection when there is one, otherwise everything before the cursor; of either, the last
 * `maxChars` characters.
 */
export function explainTarget(read: TextReader, selStart: number, selEnd: number, maxChars = Infinity): ExplainTarget {
  const selected = selEnd > selStart;
  const from = selected ? selStart : 0;
  const end = selected ? selEnd : selStart;
  const start = Math.max(from, end - maxChars);
  let text = read(start, end);
  // Never begin with the second half of a surrogate pair.
  const first = text.charCodeAt(0);
  const split = start > from && first >= 0xdc00 && first <= 0xdfff;
  if (split) text = text.slice(1);
  if (isBinaryText(text)) return { problem: 'This document looks binary (it contains NUL bytes): open a text file.' };
  if (!text.trim()) {
    return { problem: selected ? 'The selection is only whitespace: select some text to explain.'
      : 'Nothing before the cursor: select some text, or place the cursor after the text to explain.' };
  }
  return { text, start: start + (split ? 1 : 0), cut: start - from + (split ? 1 : 0) };
}

/**
 * A slice of a long document to analyse for `offset`, about `budget` characters long, reaching `ahead`
 * characters past it: by default a quarter of the budget, so the text before the offset (what a prediction
 * depends on) gets most of the room.
 */
export function sliceAround(length: number, offset: number, budget: number, ahead = Math.ceil(budget / 4)): { start: number; end: number } {
  if (length <= budget) return { start: 0, end: length };
  const start = Math.max(0, Math.min(length - budget, offset + ahead - budget));
  return { start, end: Math.min(length, start + budget) };
}

/**
 * What to tell the user when the text did not fit the context window; undefined when it did. `cut`:
 * characters of the text left out before the analysed text (character offsets count them).
 */
export function describeWindow(w: AnalysisWindow, analysedTokens: number, textLength: number, cut = 0): string | undefined {
  if (!w.truncated) return undefined;
  const which = w.start + cut === 0 ? 'the first part' : w.end >= textLength ? 'the last part' : 'a middle part';
  const first = w.firstToken + 1;
  const about = w.counted ? '' : 'about ';
  return `The text is ${about}${w.totalTokens} tokens, more than the model's context window: ` +
    `analysed ${which}, tokens ${about}${first}–${w.firstToken + analysedTokens} (characters ${cut + w.start}–${cut + w.end}).`;
}
