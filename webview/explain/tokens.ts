// The token strip: the analysed text cut into the model's tokens, each tinted by how surprised the model was.
import { h } from '../shared/dom';
import type { ScoredToken } from '../../src/core/types';
import { LOSS_BANDS, fixed, lossBand, pct, quote, showToken } from './format';

export function tokenTitle(t: ScoredToken, index: number): string {
  if (t.loss === null || t.prob === null) return `#${index} ${quote(t.text)}${t.special ? ' (special)' : ''}: nothing before it to predict it`;
  return `#${index} ${quote(t.text)}: p = ${pct(t.prob)}, rank ${t.rank}, loss ${fixed(t.loss)} nats`;
}

export function lossLegend(): HTMLElement {
  return h('div', { class: 'legend', role: 'note', 'aria-label': 'Colour legend: loss per token in nats' },
    h('span', { class: 'legend-title' }, 'Loss (nats)'),
    ...LOSS_BANDS.map((b, i) => h('span', { class: 'legend-item' }, h('span', { class: `swatch heat-${i}` }), b.label)),
  );
}

/**
 * A listbox with aria-activedescendant: one tab stop for the whole strip, arrows/Home/End move the
 * selection, so a 500-token text does not mean 500 tab presses.
 */
export function tokenStrip(tokens: ScoredToken[], selected: number, onSelect: (i: number) => void): HTMLElement {
  const strip = h('div', {
    class: 'token-strip', role: 'listbox', tabindex: 0, 'aria-label': 'Tokens. Arrow keys choose the position to explain.',
    'aria-activedescendant': `tok-${selected}`,
  });
  tokens.forEach((t, i) => {
    const band = lossBand(t.loss);
    const cls = ['tok', band >= 0 ? `heat-${band}` : 'heat-none', t.special ? 'special' : '',
      i === selected ? 'selected' : '', i === selected + 1 ? 'next' : ''].filter(Boolean).join(' ');
    const label = t.special ? t.text || '<special>' : showToken(t.text);
    strip.append(h('span', {
      id: `tok-${i}`, class: cls, role: 'option', 'aria-selected': i === selected ? 'true' : 'false',
      title: tokenTitle(t, i), 'data-index': i, onclick: () => onSelect(i),
    }, label));
  });
  strip.addEventListener('keydown', (e) => {
    const step: Record<string, number> = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1, Home: -Infinity, End: Infinity, PageUp: -10, PageDown: 10 };
    if (!(e.key in step)) return;
    e.preventDefault();
    const next = Math.max(0, Math.min(tokens.length - 1, selected + step[e.key]));
    if (next !== selected) onSelect(next);
  });
  queueMicrotask(() => strip.querySelector('.selected')?.scrollIntoView({ block: 'nearest', inline: 'nearest' }));
  return strip;
}

/** One sentence under the strip about the selected token and the one that followed it. */
export function selectionSummary(tokens: ScoredToken[], selected: number): HTMLElement {
  const t = tokens[selected];
  const next = tokens[selected + 1];
  const parts: (string | HTMLElement)[] = [`Position ${selected} of ${tokens.length - 1}: `, h('code', {}, quote(t.text)), '. '];
  if (next && next.prob !== null) {
    parts.push('The text continues with ', h('code', {}, quote(next.text)),
      `, which the model gave p = ${pct(next.prob)} (rank ${next.rank}, loss ${fixed(next.loss ?? NaN)} nats).`);
  } else {
    parts.push('This is the end of the text: below is what the model would write next.');
  }
  return h('p', { class: 'summary', 'aria-live': 'polite' }, ...parts);
}
