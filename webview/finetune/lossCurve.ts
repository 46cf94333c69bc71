// The training curve: train loss as a line over steps, validation loss as dots joined by a dashed line.
import { h, s } from '../shared/dom';
import type { ProgressPoint } from '../../src/protocol/finetune';

const HEIGHT = 140;
const PAD = { left: 34, right: 8, top: 8, bottom: 20 };

export function lossCurve(train: ProgressPoint[], val: ProgressPoint[], steps: number, width: number): SVGSVGElement {
  const all = [...train, ...val].map((p) => p.loss).filter(Number.isFinite);
  const top = Math.max(0.5, ...all) * 1.05;
  const plotW = Math.max(60, width - PAD.left - PAD.right), plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (step: number) => PAD.left + (plotW * step) / Math.max(1, steps);
  const y = (loss: number) => PAD.top + plotH * (1 - Math.min(loss, top) / top);
  const lastTrain = train.at(-1), lastVal = val.at(-1);
  const svg = s('svg', {
    id: 'ft-loss-curve', class: 'loss-curve', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img',
    'aria-label': lastTrain
      ? `Loss curve: train loss ${lastTrain.loss.toFixed(3)} at step ${lastTrain.step} of ${steps}` +
        (lastVal ? `, validation loss ${lastVal.loss.toFixed(3)} at step ${lastVal.step}` : '') + '.'
      : 'Loss curve: no steps yet.',
  });
  const ticks = niceTicks(top);
  for (const v of ticks) {
    svg.append(s('line', { class: 'grid-line', x1: PAD.left, x2: PAD.left + plotW, y1: y(v), y2: y(v) }),
      s('text', { class: 'axis-label', x: PAD.left - 5, y: y(v) + 3, 'text-anchor': 'end' }, v >= 1e4 ? v.toExponential(0) : v));
  }
  svg.append(s('text', { class: 'axis-label', x: PAD.left, y: HEIGHT - 5 }, 'step 0'),
    s('text', { class: 'axis-label', x: PAD.left + plotW, y: HEIGHT - 5, 'text-anchor': 'end' }, `${steps}`));
  const path = (pts: ProgressPoint[]) => pts.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
  if (train.length) svg.append(s('polyline', { class: 'curve-train', points: path(train) }));
  if (val.length) {
    svg.append(s('polyline', { class: 'curve-val', points: path(val) }));
    for (const p of val) svg.append(s('circle', { class: 'curve-val-dot', cx: x(p.step), cy: y(p.loss), r: 2.5 }));
  }
  return svg;
}

export function curveLegend(): HTMLElement {
  return h('div', { class: 'curve-legend', 'aria-hidden': 'true' },
    h('span', { class: 'key key-train' }), 'train', h('span', { class: 'key key-val' }), 'validation');
}

/** About four gridlines at 1, 2 or 5 times a power of ten, whatever the scale: a diverging run reaches 1e31. */
export function niceTicks(top: number): number[] {
  const rough = top / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  const out: number[] = [];
  for (let i = 0; i * step <= top; i++) out.push(Number((i * step).toPrecision(6)));
  return out;
}
