// The compare lens's messages: the Explain panel asks to compare its text with another model; the host
// answers with the comparison. Browser-safe (types and plain data only).
import type { ComparedToken, Comparison } from '../core/lenses/compare';

export type { ComparedToken };

/** One text under two models, as the compare lens computed it (see src/core/lenses/compare.ts); `models` are display names. */
export type ComparisonPayload = Comparison;

export interface CompareHostMessages {
  comparison: ComparisonPayload;
}

export interface CompareWebviewMessages {
  /** "Compare with…": the host asks which model B is, then answers with `comparison`. */
  compareWith: Record<never, never>;
}
