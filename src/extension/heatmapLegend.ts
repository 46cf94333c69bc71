// The loss heatmap's legend: a short status-bar text and a tooltip with a colour swatch per bucket.
// Status-bar text has one colour, so the swatches live in the tooltip's Markdown, painted with the same
// contributed theme colours as the decorations (VS Code keeps a span's background-color when it is a hex
// colour or a var(--vscode-...) and the Markdown allows HTML).
import { perplexity } from '../core/numberFormat';
import { bucketsFor, GLTR_VOCAB, type HeatmapStyle } from './heatmapBuckets';

/** The CSS variable VS Code defines for a contributed colour: dots become dashes. */
export const themeColorVar = (id: string): string => `var(--vscode-${id.replace(/\./g, '-')})`;

export function swatch(bucketId: string): string {
  return `<span style="background-color:${themeColorVar(`tokenLens.heatmap.${bucketId}Background`)};border-radius:3px;">&nbsp;&nbsp;&nbsp;&nbsp;</span>`;
}

export interface LegendInput {
  style: HeatmapStyle;
  vocabSize: number;
  /** Mean loss of the decorated tokens, in nats; undefined when none were. */
  meanLoss?: number;
}

export function legendText(l: LegendInput): string {
  const labels = bucketsFor(l.style, l.vocabSize).map((b) => b.label).join(' · ');
  return `$(symbol-color) ${l.style}: ${labels}` + (l.meanLoss === undefined ? '' : `  (mean loss ${l.meanLoss.toFixed(2)})`);
}

/** What each bucket holds, in words: "ranks 5–14", "2.5–4 nats". */
function range(style: HeatmapStyle, from: number, below: number, vocabSize: number): string {
  if (style === 'surprisal') return below === Infinity ? `${from} nats or more` : from === 0 ? `under ${below} nat${below === 1 ? '' : 's'}` : `${from}–${below} nats`;
  const last = Math.min(below - 1, vocabSize);
  return from === last ? `rank ${from}` : `ranks ${from}–${last}`;
}

export function legendMarkdown(l: LegendInput): string {
  const buckets = bucketsFor(l.style, l.vocabSize);
  if (l.style === 'difference') {
    return [`**Token Lens loss heatmap** (difference)`, buckets.map((b) => `${swatch(b.id)} **${b.label}**`).join('  \n'),
      'Each token is coloured by its loss under the model chosen with **Compare with…** (B) minus its loss under the current model (A): '
      + 'blue where B predicts it better, orange where worse; changes under 0.2 nats stay uncoloured.',
      'Click to turn the heatmap off. The style is the setting `tokenLens.heatmap.style`.'].join('\n\n');
  }
  const rows = buckets.map((b, i) => {
    const from = i === 0 ? (l.style === 'rank' ? 1 : 0) : buckets[i - 1].below;
    return `${swatch(b.id)} **${b.label}** ${range(l.style, from, b.below, l.vocabSize)}`;
  });
  const about = l.style === 'rank'
    ? `Each token is coloured by the rank the model gave it. GLTR's buckets top-10, top-100 and top-1000 are for GPT-2's `
      + `${GLTR_VOCAB.toLocaleString('en-US')} tokens; for this model's ${l.vocabSize.toLocaleString('en-US')} they are scaled `
      + `to keep the same share of log-rank.`
    : 'Each token is coloured by its surprisal, the loss −ln p in nats.';
  const parts = [`**Token Lens loss heatmap** (${l.style})`, rows.join('  \n'), about];
  if (l.meanLoss !== undefined) {
    parts.push(`Mean loss of the visible tokens: ${l.meanLoss.toFixed(2)} nats (perplexity ${perplexity(Math.exp(l.meanLoss))}).`);
  }
  parts.push('Click to turn the heatmap off. The style is the setting `tokenLens.heatmap.style`.');
  return parts.join('\n\n');
}
