// The Compare section of the Explain panel: the panel's text under two models. Two token strips (each
// tinted by its own model's loss), a Δloss chart (B's loss minus A's: below the line B predicts better,
// above it worse) and KL(A‖B) per token, with the summary and the tokens that moved most.
// Self-contained: it needs only the comparison and a callback that asks the host for one.
import '../../media/compare.css';
import { h, s } from '../shared/dom';
import type { ComparedToken, ComparisonPayload } from '../../src/protocol/compare';
import { fixed, lossBand, showToken } from './format';

const HEIGHT = 120;
const KL_HEIGHT = 56;
const PAD = { left: 40, right: 8, top: 8, bottom: 14 };

const delta = (t: ComparedToken): number | null => (t.lossA === null || t.lossB === null ? null : t.lossB - t.lossA);
const signed = (x: number, digits = 3): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

/** `onCompare` adds the "Compare with…" button; `idPrefix` keeps ids apart when a view shows several. */
export function compareSection(c: ComparisonPayload | null, width: number, onCompare?: () => void, idPrefix = ''): HTMLElement[] {
  // A native button, styled from the theme: with a vscode-button here, the workbench's quick picks opened after a
  // comparison closed as soon as they opened in the UI scenarios (code-server); the native button leaves them be.
  const button = onCompare ? h('button', { type: 'button', id: 'compare-with', onclick: onCompare,
    title: 'Score this text with another model too: a quantized variant, a fine-tuned model, any model' }, 'Compare with…') : null;
  if (!c) {
    return [h('p', { class: 'muted' }, 'See what another model (a quantized variant, a fine-tuned one, any model) makes of the same text. '), ...(button ? [button] : [])];
  }
  const unit = c.sameTokenizer ? 'nats' : 'bits/char';
  return [
    h('div', { class: 'compare-head' }, button,
      h('span', { class: 'compare-models' }, h('span', { class: 'model-a' }, `A: ${c.models[0]}`), ' vs ', h('span', { class: 'model-b' }, `B: ${c.models[1]}`))),
    h('div', { class: 'compare-stats', id: `${idPrefix}compare-stats` },
      stat('Mean loss A', `${fixed(c.meanLossA, 3)} ${unit}`),
      stat('Mean loss B', `${fixed(c.meanLossB, 3)} ${unit}`),
      stat('Mean Δloss', `${signed(c.meanLossB - c.meanLossA)} ${unit}`, 'B minus A: negative when B predicts the text better'),
      c.meanKl !== null ? stat('Mean KL(A‖B)', `${c.meanKl.toFixed(4)} nats`, 'How far B\'s next-token distributions are from A\'s, averaged over positions') : null,
      c.top1Agreement !== null ? stat('Top-1 agreement', `${(100 * c.top1Agreement).toFixed(1)}%`, 'Positions where both models would pick the same next token') : null),
    c.sameTokenizer ? null : h('p', { class: 'notice', role: 'note' },
      'Different tokenizers: the text is cut where both have a token boundary and each piece is scored in bits per character. KL and top-1 need one vocabulary, so they are not shown.'),
    strip('A', c.tokens, (t) => t.lossA, unit, idPrefix),
    strip('B', c.tokens, (t) => t.lossB, unit, idPrefix),
    deltaChart(c, width, idPrefix),
    c.sameTokenizer ? klChart(c, width, idPrefix) : null,
    movedMost(c),
  ].filter((x): x is HTMLElement => x !== null);
}

function stat(label: string, value: string, title = ''): HTMLElement {
  return h('div', { class: 'stat', title }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value));
}

function strip(which: 'A' | 'B', tokens: ComparedToken[], loss: (t: ComparedToken) => number | null, unit: string, idPrefix: string): HTMLElement {
  return h('div', { class: 'compare-row' },
    h('span', { class: 'compare-label' }, which),
    h('div', { class: 'compare-strip', id: `${idPrefix}compare-strip-${which.toLowerCase()}`, 'aria-label': `Tokens under model ${which}, tinted by its loss` },
      ...tokens.map((t) => {
        const l = loss(t);
        const band = lossBand(l);
        return h('span', { class: `cmp-tok ${band >= 0 ? `cmp-heat-${band}` : ''}`, title: `${showToken(t.text)}: loss ${l === null ? '–' : fixed(l, 3)} ${unit} under ${which}` }, showToken(t.text));
      })));
}

/** Bars of B's loss minus A's, from a zero line: better below (one colour), worse above (another). */
function deltaChart(c: ComparisonPayload, width: number, idPrefix: string): HTMLElement {
  const ds = c.tokens.map(delta);
  const m = Math.max(0.05, ...ds.map((d) => Math.abs(d ?? 0)));
  const plotW = Math.max(50, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const bw = plotW / Math.max(1, c.tokens.length);
  const y = (d: number) => PAD.top + plotH / 2 - (d / m) * (plotH / 2);
  const svg = s('svg', { class: 'delta-chart', id: `${idPrefix}delta-chart`, width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img',
    'aria-label': `Loss under B minus loss under A, per token; mean ${signed(c.meanLossB - c.meanLossA)}` });
  svg.append(
    s('line', { class: 'grid-line', x1: PAD.left, x2: PAD.left + plotW, y1: y(0), y2: y(0) }),
    s('text', { class: 'axis-label', x: PAD.left - 4, y: y(m) + 8, 'text-anchor': 'end' }, `+${m.toFixed(2)}`),
    s('text', { class: 'axis-label', x: PAD.left - 4, y: y(0) + 4, 'text-anchor': 'end' }, '0'),
    s('text', { class: 'axis-label', x: PAD.left - 4, y: y(-m), 'text-anchor': 'end' }, `−${m.toFixed(2)}`));
  ds.forEach((d, i) => {
    if (d === null) return;
    const top = Math.min(y(d), y(0));
    const rect = s('rect', { class: `delta-bar ${d > 0 ? 'worse' : 'better'}`, x: PAD.left + i * bw + (bw > 4 ? 0.5 : 0), y: top,
      width: Math.max(0.5, bw - (bw > 4 ? 1 : 0)), height: Math.max(0.5, Math.abs(y(d) - y(0))) });
    rect.append(s('title', {}, `${showToken(c.tokens[i].text)}: ${signed(d)} (${fixed(c.tokens[i].lossA!, 3)} → ${fixed(c.tokens[i].lossB!, 3)})`));
    svg.append(rect);
  });
  return h('div', { class: 'chart-block' },
    h('div', { class: 'chart-title' }, 'Δloss (B − A) ', h('span', { class: 'swatch-better' }), ' B better ', h('span', { class: 'swatch-worse' }), ' B worse'),
    svg);
}

function klChart(c: ComparisonPayload, width: number, idPrefix: string): HTMLElement {
  const kls = c.tokens.map((t) => t.kl);
  const m = Math.max(1e-6, ...kls.map((k) => k ?? 0));
  const plotW = Math.max(50, width - PAD.left - PAD.right);
  const plotH = KL_HEIGHT - PAD.top - 4;
  const bw = plotW / Math.max(1, c.tokens.length);
  const svg = s('svg', { class: 'kl-chart', id: `${idPrefix}kl-chart`, width, height: KL_HEIGHT, viewBox: `0 0 ${width} ${KL_HEIGHT}`, role: 'img',
    'aria-label': `KL divergence of A's next-token distribution from B's, per token; mean ${c.meanKl?.toFixed(4)} nats` });
  svg.append(s('text', { class: 'axis-label', x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end' }, m.toFixed(m < 0.01 ? 4 : 2)));
  kls.forEach((k, i) => {
    if (k === null) return;
    const hgt = Math.max(0.5, (k / m) * plotH);
    const rect = s('rect', { class: `kl-bar${c.tokens[i].top1Same === false ? ' top1-differs' : ''}`, x: PAD.left + i * bw, y: PAD.top + plotH - hgt,
      width: Math.max(0.5, bw - (bw > 4 ? 1 : 0)), height: hgt });
    rect.append(s('title', {}, `${showToken(c.tokens[i].text)}: KL ${k.toFixed(5)} nats${c.tokens[i].top1Same === false ? ', top-1 differs' : ''}`));
    svg.append(rect);
  });
  return h('div', { class: 'chart-block' }, h('div', { class: 'chart-title' }, 'KL(A‖B) per token, nats (outlined: the top-1 guesses differ)'), svg);
}

function movedMost(c: ComparisonPayload): HTMLElement | null {
  const order = c.tokens.map((t, i) => ({ t, i, d: delta(t) })).filter((x) => x.d !== null)
    .sort((a, b) => Math.abs(b.d!) - Math.abs(a.d!)).slice(0, 5);
  if (!order.length) return null;
  return h('div', { class: 'moved' }, h('span', { class: 'chart-title' }, 'Moved most: '),
    ...order.map(({ t, d }) => h('span', { class: `moved-token ${d! > 0 ? 'worse' : 'better'}`,
      title: t.rankA !== null ? `rank ${t.rankA} → ${t.rankB}` : '' }, `${showToken(t.text)} ${signed(d!, 2)}${t.rankA !== null && t.rankA !== t.rankB ? ` (rank ${t.rankA}→${t.rankB})` : ''}`)));
}
