// What the panel says differently for a masked language model (BERT): it fills in a blank at the selected
// token, from the text on both sides, instead of predicting what comes after it.
import { h } from '../shared/dom';
import type { ModelInfo, ScoredToken } from '../../src/core/types';
import { fixed, pct, quote } from './format';

export const isMasked = (model: ModelInfo) => model.objective === 'masked';

/** The distribution section's title. */
export const distributionTitle = (model: ModelInfo) => (isMasked(model) ? 'Fill in the blank' : 'Next token');

/** One sentence under the strip about the selected token, read as a blank. */
export function blankSummary(tokens: ScoredToken[], selected: number, model: ModelInfo): HTMLElement {
  const t = tokens[selected];
  const parts: (string | HTMLElement)[] = [`Position ${selected} of ${tokens.length - 1}: `, h('code', {}, quote(t.text)), '. '];
  if (t.id === model.maskId) parts.push('A blank: below is what the model fills in, reading the words on both sides.');
  else if (t.prob === null) parts.push(`A special token: the model does not fill it in. Write ${model.maskToken} where a word should be guessed.`);
  else {
    parts.push('Masked in turn, the model gave it p = ', pct(t.prob),
      ` (rank ${t.rank}, loss ${fixed(t.loss ?? NaN)} nats); below is what it would fill in there.`);
  }
  return h('p', { class: 'summary', 'aria-live': 'polite' }, ...parts);
}
