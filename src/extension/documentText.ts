// Which text to analyse, decided from plain strings and offsets so it can be tested without an editor.
import type { AnalysisWindow } from '../core/types';

export type ExplainTarget = { text: string; start: number } | { problem: string };

/** A document with NUL characters is binary: its "text" is not language. */
export function isBinaryText(text: string): boolean {
  return text.includes('\u0000');
}

/** The selection when there is one, otherwise everything before the cursor. */
export function explainTarget(doc: string, selStart: number, selEnd: number): ExplainTarget {
  if (isBinaryText(doc)) return { problem: 'This document looks binary (it contains NUL bytes): open a text file.' };
  if (selEnd > selStart) {
    const text = doc.slice(selStart, selEnd);
    if (!text.trim()) return { problem: 'The selection is only whitespace: select some text to explain.' };
    return { text, start: selStart };
  }
  const text = doc.slice(0, selStart);
  if (!text.trim()) {
    return { problem: 'Nothing before the cursor: select some text, or place the cursor after the text to explain.' };
  }
  return { text, start: 0 };
}

/**
 * A slice of a long document to analyse for `offset`, about `budget` characters long. The offset sits
 * three quarters in, so the text before it (what a prediction depends on) gets most of the room.
 */
export function sliceAround(length: number, offset: number, budget: number): { start: number; end: number } {
  if (length <= budget) return { start: 0, end: length };
  const start = Math.max(0, Math.min(length - budget, offset - Math.floor(budget * 0.75)));
  return { start, end: Math.min(length, start + budget) };
}

/** What to tell the user when the text did not fit the context window; undefined when it did. */
export function describeWindow(w: AnalysisWindow, analysedTokens: number, textLength: number): string | undefined {
  if (!w.truncated) return undefined;
  const which = w.start === 0 ? 'the first part' : w.end >= textLength ? 'the last part' : 'a middle part';
  const first = w.firstToken + 1;
  const about = w.counted ? '' : 'about ';
  return `The text is ${about}${w.totalTokens} tokens, more than the model's context window: ` +
    `analysed ${which}, tokens ${about}${first}–${w.firstToken + analysedTokens} (characters ${w.start}–${w.end}).`;
}
