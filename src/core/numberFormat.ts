// How probabilities and perplexities read wherever Token Lens shows them: the hover, the panels, the heatmap
// legend and the CLI. One place, so a number reads the same everywhere. Browser-safe (no Node).

/**
 * A probability as a percentage a reader can compare at a glance: never an exponent inside a percent, never
 * "100%" for less than all of it. 0.9512 -> "95.1%", 0.068 -> "6.80%", 0.00068 -> "0.068%",
 * 0.00002 -> "<0.01%", 0.99991 -> ">99.9%", 1 -> "100%".
 */
export function percent(p: number): string {
  if (!Number.isFinite(p) || p < 0) return '–';
  if (p === 0) return '0%';
  if (p >= 1) return '100%';
  if (p < 1e-4) return '<0.01%';
  const digits = p >= 0.1 ? 1 : p >= 0.001 ? 2 : 3;
  const shown = (p * 100).toFixed(digits);
  // 0.99951 would round to "100.0%": say it is just short of all of it.
  return Number(shown) >= 100 ? '>99.9%' : `${shown}%`;
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹';
const superscript = (n: number): string => String(n).replace(/\d/g, (d) => SUPERSCRIPT[Number(d)]);

/**
 * A perplexity: two decimals while small, thousands grouped up to a million, then scientific notation
 * (an untrained or badly surprised model reaches 10⁸ and more; all those digits say nothing).
 * 12.3456 -> "12.35", 4821.7 -> "4,822", 309072870.66 -> "3.09 × 10⁸".
 */
export function perplexity(x: number): string {
  if (Number.isNaN(x)) return '–';
  if (x === Infinity) return '∞';
  if (x < 100) return x.toFixed(2);
  if (x < 1e6) return Math.round(x).toLocaleString('en-US');
  let exponent = Math.floor(Math.log10(x));
  let mantissa = Number((x / 10 ** exponent).toFixed(2));
  if (mantissa >= 10) {
    mantissa /= 10;
    exponent++;
  }
  return `${mantissa.toFixed(2)} × 10${superscript(exponent)}`;
}
