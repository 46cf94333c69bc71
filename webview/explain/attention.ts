// Attention: where each token (query row) looks among the tokens before it (key columns).
import { h, themeColor } from '../shared/dom';
import type { HostMessages } from '../../src/protocol/messages';
import type { AttentionSummary } from '../../src/protocol/messages';
import type { ScoredToken } from '../../src/core/types';
import { pct, quote, showToken } from './format';
import { labelled, select } from '../shared/controls';

export interface AttentionProps {
  summary: AttentionSummary;
  tokens: ScoredToken[];
  selected: number;
  layer: number;
  head: number;
  matrix: HostMessages['attention'] | null;
  grid: HostMessages['attentionGrid'] | null;
  width: number;
  onPick: (layer: number, head: number) => void;
  onSelectRow: (position: number) => void;
}

function picker(id: string, label: string, count: number, value: number, onChange: (v: number) => void): HTMLElement {
  const options = Array.from({ length: count }, (_, i): [string, string] => [String(i), `${label} ${i}`]);
  return labelled(id, label, select(id, label, options, String(value), (v) => onChange(Number(v))));
}

interface Palette { hot: string; grid: string; fg: string; muted: string; focus: string; font: string }

function palette(): Palette {
  const font = themeColor('--vscode-editor-font-family', 'monospace');
  return {
    hot: themeColor('--vscode-charts-blue', '#3794ff'),
    grid: themeColor('--vscode-panel-border', '#80808059'),
    fg: themeColor('--vscode-foreground', '#cccccc'),
    muted: themeColor('--vscode-descriptionForeground', '#999999'),
    focus: themeColor('--vscode-focusBorder', '#007fd4'),
    font,
  };
}

/** Maps an attention row to its token: attention covers the last `size` tokens of the window. */
const tokenOf = (tokens: ScoredToken[], size: number, r: number) => tokens[tokens.length - size + r];

function heatmap(p: AttentionProps, m: HostMessages['attention']): HTMLElement {
  const T = m.size;
  const col = palette();
  const labelled = p.width / T >= 9 || T <= 48;
  const margin = labelled ? 78 : 8;
  const cell = Math.max(1, Math.min(22, Math.floor((Math.min(p.width, 720) - margin - 8) / T)));
  const side = margin + cell * T;
  const canvas = h('canvas', {
    class: 'heatmap', tabindex: 0, role: 'img', 'data-margin': margin, 'data-cell': cell,
    'aria-label': `Attention of layer ${m.layer}, head ${m.head}: ${T} by ${T}. Up and down arrows move the selected row.`,
  });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * dpr);
  canvas.height = Math.round(side * dpr);
  canvas.style.width = `${side}px`;
  canvas.style.height = `${side}px`;
  const ctx = canvas.getContext('2d');
  const rowOffset = p.tokens.length - T;
  const selRow = p.selected - rowOffset;
  if (ctx) {
    ctx.scale(dpr, dpr);
    ctx.fillStyle = col.hot;
    for (let r = 0; r < T; r++) {
      for (let c = 0; c <= r; c++) {
        const w = m.weights[r * T + c];
        if (!(w > 0)) continue;
        ctx.globalAlpha = Math.min(1, w);
        ctx.fillRect(margin + c * cell, margin + r * cell, cell, cell);
      }
    }
    ctx.globalAlpha = 1;
    // A frame, so the empty (masked) upper triangle reads as part of the matrix.
    ctx.strokeStyle = col.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(margin - 0.5, margin - 0.5, cell * T + 1, cell * T + 1);
    if (labelled) {
      ctx.font = `${Math.min(12, Math.max(9, cell - 2))}px ${col.font}`;
      ctx.textBaseline = 'middle';
      for (let i = 0; i < T; i++) {
        const t = tokenOf(p.tokens, T, i);
        const text = t ? clip(t.special ? t.text : showToken(t.text), 9) : String(i);
        ctx.fillStyle = i === selRow ? col.fg : col.muted;
        ctx.textAlign = 'right';
        ctx.fillText(text, margin - 4, margin + i * cell + cell / 2);
        ctx.save();
        ctx.translate(margin + i * cell + cell / 2, margin - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = 'left';
        ctx.fillText(text, 0, 0);
        ctx.restore();
      }
    }
    if (selRow >= 0 && selRow < T) {
      ctx.strokeStyle = col.focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(margin + 1, margin + selRow * cell + 1, cell * T - 2, cell - 2);
    }
  }
  const cellAt = (e: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    const c = Math.floor((e.clientX - rect.left - margin) / cell), r = Math.floor((e.clientY - rect.top - margin) / cell);
    return r >= 0 && r < T && c >= 0 && c < T ? { r, c } : null;
  };
  canvas.addEventListener('mousemove', (e) => {
    const at = cellAt(e);
    if (!at) { canvas.title = ''; return; }
    const q = tokenOf(p.tokens, T, at.r), k = tokenOf(p.tokens, T, at.c);
    canvas.title = at.c > at.r ? `${quote(q?.text ?? '')} cannot see the later ${quote(k?.text ?? '')} (causal mask)`
      : `${quote(q?.text ?? '')} → ${quote(k?.text ?? '')}: ${pct(m.weights[at.r * T + at.c])}`;
  });
  canvas.addEventListener('click', (e) => { const at = cellAt(e); if (at) p.onSelectRow(at.r + rowOffset); });
  canvas.addEventListener('keydown', (e) => {
    const d = e.key === 'ArrowUp' ? -1 : e.key === 'ArrowDown' ? 1 : 0;
    if (!d) return;
    e.preventDefault();
    const next = Math.max(rowOffset, Math.min(p.tokens.length - 1, p.selected + d));
    if (next !== p.selected) p.onSelectRow(next);
  });
  return h('div', { class: 'heatmap-wrap' }, canvas, topKeys(p, m, selRow));
}

/** The selected row in words: which earlier tokens the selected token attends to most. */
function topKeys(p: AttentionProps, m: HostMessages['attention'], selRow: number): HTMLElement {
  const T = m.size;
  if (selRow < 0 || selRow >= T) return h('p', { class: 'muted' }, 'The selected token is outside the attention window.');
  const row = Array.from({ length: selRow + 1 }, (_, c) => ({ c, w: m.weights[selRow * T + c] }))
    .sort((a, b) => b.w - a.w).slice(0, 5);
  const q = tokenOf(p.tokens, T, selRow);
  return h('div', { class: 'row-summary', 'aria-live': 'polite' },
    h('span', {}, `${quote(q?.text ?? '')} attends most to `),
    ...row.map(({ c, w }) => h('span', { class: 'chip' }, `${quote(tokenOf(p.tokens, T, c)?.text ?? '')} ${pct(w)}`)));
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function headGrid(p: AttentionProps, g: HostMessages['attentionGrid']): HTMLElement {
  const col = palette();
  const side = 56;
  const px = side / g.size;
  const dpr = window.devicePixelRatio || 1;
  const items = g.heads.map((w, head) => {
    const canvas = h('canvas', { 'aria-hidden': 'true' });
    canvas.width = Math.round(side * dpr);
    canvas.height = Math.round(side * dpr);
    canvas.style.width = `${side}px`;
    canvas.style.height = `${side}px`;
    const ctx = canvas.getContext('2d');
    if (ctx) {
      ctx.scale(dpr, dpr);
      ctx.fillStyle = col.hot;
      for (let r = 0; r < g.size; r++) for (let c = 0; c < g.size; c++) {
        const v = w[r * g.size + c];
        if (!(v > 0)) continue;
        ctx.globalAlpha = Math.min(1, v);
        // Snap to whole pixels so neighbouring cells do not leave antialiased seams.
        const x0 = Math.round(c * px), y0 = Math.round(r * px);
        ctx.fillRect(x0, y0, Math.round((c + 1) * px) - x0, Math.round((r + 1) * px) - y0);
      }
    }
    const current = head === p.head;
    // A native button: a picture tile with a pressed state (aria-pressed), not a command button.
    return h('button', {
      type: 'button', class: `head-thumb${current ? ' current' : ''}`, 'aria-pressed': current ? 'true' : 'false',
      'aria-label': `Open layer ${g.layer} head ${head}`, onclick: () => p.onPick(g.layer, head),
    }, canvas, h('span', {}, `Head ${head}`));
  });
  return h('div', { class: 'head-grid', role: 'group', 'aria-label': `All heads of layer ${g.layer}` }, ...items);
}

export function attentionView(p: AttentionProps): HTMLElement {
  if (!p.summary.available) {
    return h('div', { class: 'notice', role: 'note' },
      h('strong', {}, 'Attention is not available for this model. '),
      p.summary.note ?? 'Its export does not expose the attention probabilities.');
  }
  const pickers = h('div', { class: 'controls' },
    picker('att-layer', 'Layer', p.summary.layers, p.layer, (l) => p.onPick(l, p.head)),
    picker('att-head', 'Head', p.summary.heads, p.head, (hd) => p.onPick(p.layer, hd)),
    h('span', { class: 'muted legend-inline' }, h('span', { class: 'swatch att-swatch' }), 'darker = more attention; rows sum to 1'));
  return h('div', { class: 'attention' }, pickers,
    p.matrix ? heatmap(p, p.matrix) : h('p', { class: 'muted' }, 'Loading attention…'),
    p.grid ? h('div', {}, h('h3', {}, `All heads of layer ${p.grid.layer}`), headGrid(p, p.grid)) : null);
}
