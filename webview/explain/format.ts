// How tokens and numbers read in the panel.

/** Token text with whitespace made visible: a leading space shows as ·, newlines as ↵, tabs as →. */
export function showToken(text: string): string {
  if (text === '') return '∅';
  return text.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍');
}

/** Quoted token for sentences and tooltips. */
export const quote = (text: string): string => `“${showToken(text)}”`;

export { percent as pct, perplexity } from '../../src/core/numberFormat';

export const fixed = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/**
 * Loss bands in nats. ln 2 ≈ 0.69 is a coin flip; ln 512 ≈ 6.2 is a uniform guess over a 512-token vocab.
 * Bands are fixed (not per text) so colours mean the same thing on every text.
 */
export const LOSS_BANDS = [
  { max: 0.5, label: '< 0.5' },
  { max: 1.5, label: '0.5–1.5' },
  { max: 3, label: '1.5–3' },
  { max: 5, label: '3–5' },
  { max: Infinity, label: '≥ 5' },
] as const;

export function lossBand(loss: number | null): number {
  if (loss === null) return -1;
  return LOSS_BANDS.findIndex((b) => loss < b.max);
}
