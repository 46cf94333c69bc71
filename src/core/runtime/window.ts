// What part of a text an analysis covers, reported to the user when the text did not fit the window.
import type { AnalysisWindow, Token } from '../types';
import type { Tail } from './tail';

/**
 * The window of `tokens` (the tail's leading specials, then the tokens analysed) in `text`. Token
 * counts are exact when the whole text was tokenized; otherwise the tokens before the window are
 * estimated from the characters per token of the analysed part (and `precedingChars` characters left out
 * before the text).
 */
export function analysisWindow(text: string, tail: Tail, tokens: Token[], precedingChars = 0): AnalysisWindow {
  const analysed = tokens.length - tail.lead;
  const truncated = tokens.length < tail.tokens.length || !tail.whole;
  const start = truncated ? tokens[tail.lead].start : 0;
  if (tail.whole) {
    const firstToken = truncated ? tail.tokens.length - analysed : 0;
    return { firstToken, totalTokens: tail.tokens.length, counted: true, start, end: text.length, truncated };
  }
  const perChar = analysed / Math.max(1, text.length - start);
  const firstToken = tail.lead + Math.max(1, Math.round((precedingChars + start) * perChar));
  return { firstToken, totalTokens: firstToken + analysed, counted: false, start, end: text.length, truncated };
}
