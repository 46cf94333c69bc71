// Loss per token as bars: each bar is one prediction (tokens before -> this token), the dashed line the mean.
import { h, s } from '../shared/dom';
import type { ScoredToken } from '../../src/core/types';
import { fixed, lossBand, perplexity as showPerplexity } from './format';
import { tokenTitle } from './tokens';

const HEIGHT = 150;
const PAD = { left: 34, right: 8, top: 10, bottom: 18 };

/** `after`: how many tokens before a bar its prediction was made (1 for a causal model; 0 for a masked one,
 *  whose bar i is token i filled in with itself masked). */
export function lossChart(tokens: ScoredToken[], meanLoss: number, perplexity: number, selected: number,
  width: number, onSelect: (position: number) => void, after = 1): HTMLElement {
  const scored = tokens.map((t, i) => ({ t, i })).filter((x) => x.t.loss !== null);
  const maxLoss = Math.max(1, ...scored.map((x) => x.t.loss!));
  const top = Math.ceil(maxLoss);
  const plotW = Math.max(50, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const bw = plotW / Math.max(1, tokens.length);
  const y = (loss: number) => PAD.top + plotH * (1 - loss / top);

  const svg = s('svg', {
    class: 'loss-chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img',
    'aria-label': `Loss per token. Mean ${fixed(meanLoss)} nats, perplexity ${showPerplexity(perplexity)}.`,
  });
  const step = top <= 4 ? 1 : top <= 10 ? 2 : 5;
  for (let v = 0; v <= top; v += step) {
    svg.append(s('line', { class: 'grid-line', x1: PAD.left, x2: PAD.left + plotW, y1: y(v), y2: y(v) }),
      s('text', { class: 'axis-label', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v));
  }
  for (const { t, i } of scored) {
    const band = lossBand(t.loss);
    const current = i === selected + after ? ' current' : '';
    const gap = bw > 4 ? 1 : 0;
    const rect = s('rect', {
      class: `loss-bar heat-fill-${band}${current}`, x: PAD.left + i * bw + gap / 2, y: y(t.loss!),
      width: Math.max(0.5, bw - gap), height: Math.max(0.5, PAD.top + plotH - y(t.loss!)),
    });
    rect.append(s('title', {}, `${tokenTitle(t, i)}. Click to see what the model predicted here.`));
    // A bar is the prediction that scored token i: selecting its row (i - after) shows that distribution.
    rect.addEventListener('click', () => onSelect(i - after));
    svg.append(rect);
  }
  svg.append(
    s('line', { class: 'mean-line', x1: PAD.left, x2: PAD.left + plotW, y1: y(meanLoss), y2: y(meanLoss) }),
    s('text', { class: 'mean-label', x: PAD.left + plotW - 4, y: y(meanLoss) - 4, 'text-anchor': 'end' }, `mean ${fixed(meanLoss)}`),
    s('text', { class: 'axis-label', x: 4, y: PAD.top + plotH + 14 }, 'nats'),
  );
  // A masked model scores each token with itself masked, from the text on both sides (pseudo-log-likelihood).
  const stats = after === 0
    ? [
      stat('Mean pseudo-loss', `${fixed(meanLoss, 3)} nats`, 'Average of −ln p over the scored tokens, each predicted with itself masked'),
      stat('Pseudo-perplexity', showPerplexity(perplexity), 'exp(mean pseudo-loss): as unsure as a fair choice among this many tokens'),
      stat('Scored tokens', String(scored.length), 'Each token is masked in turn and predicted from the text on both sides; special tokens and blanks are not scored'),
    ]
    : [
      stat('Mean loss', `${fixed(meanLoss, 3)} nats`, 'Average of −ln p over the predicted tokens'),
      stat('Perplexity', showPerplexity(perplexity), 'exp(mean loss): as unsure as a fair choice among this many tokens'),
      stat('Predicted tokens', String(scored.length), 'Every token but the first is predicted from the ones before it'),
    ];
  return h('div', { class: 'loss-wrap' }, h('div', { class: 'stats' }, ...stats), svg);
}

function stat(label: string, value: string, title: string): HTMLElement {
  return h('div', { class: 'stat', title }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value));
}
