// The logit lens: a layer x position grid. Each cell is the top-1 next token read from the residual stream after
// that block, shaded by its probability; the row where each column's final answer settles is marked. A click (or
// Enter) on a cell lists its top-k. One tab stop for the grid: arrow keys move inside it.
import { h } from '../shared/dom';
import type { HostMessages } from '../../src/protocol/messages';
import { pct, quote, showToken } from './format';
import { collapsible } from '../shared/controls';

export interface LogitLensProps {
  lens: HostMessages['logitLens'] | null;
  status: HostMessages['lensStatus'] | null;
  cell: { layer: number; position: number } | null;
  /** The panel's selected position: its column is highlighted. */
  selected: number;
  onRun: () => void;
  onCancel: () => void;
  onPick: (layer: number, position: number) => void;
}

export function lensStatusLine(status: HostMessages['lensStatus'] | null, onCancel: () => void, onRun: () => void, runLabel: string): HTMLElement | null {
  if (!status) return null;
  if (status.status === 'running') {
    const bar = h('progress', { class: 'lens-progress', max: Math.max(1, status.total), 'aria-label': status.message });
    if (status.total > 0) bar.value = status.done;
    else bar.removeAttribute('value');
    return h('div', { class: 'lens-status', role: 'status' }, bar, h('span', {}, status.message),
      h('vscode-button', { secondary: true, class: 'lens-cancel', onclick: onCancel }, 'Cancel'));
  }
  return h('div', { class: status.status === 'failed' ? 'lens-status error' : 'lens-status', role: status.status === 'failed' ? 'alert' : 'status' },
    h('span', {}, status.message), h('vscode-button', { secondary: true, class: 'lens-run', onclick: onRun }, runLabel));
}

const HOW_TO_READ = [
  'Each row decodes the residual stream after one block through the model’s own final norm and unembedding, as if the '
  + 'model stopped there; the top row is the model’s real output. A cell shows the most likely next token at that depth, '
  + 'darker when more probable.',
  'The outlined cell in each column is the decision depth: from that block on, the top-1 is already the final answer. '
  + 'Early settling means an easy, shallow prediction; a late one means the model needed its later blocks.',
];

function topK(lens: HostMessages['logitLens'], layer: number, position: number): HTMLElement {
  const cands = lens.top[layer][position];
  const max = Math.max(...cands.map((c) => c.prob), 1e-12);
  return h('div', { class: 'lens-topk', 'aria-live': 'polite' },
    h('h3', {}, `Block ${layer}${layer === lens.layers - 1 ? ' (output)' : ''}, after ${quote(lens.tokens[position])}: top ${cands.length}`),
    h('ol', { class: 'lens-cands' }, ...cands.map((c) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(100 * c.prob) / max}%`;
      return h('li', { class: 'lens-cand' }, h('code', { class: 'cand-text' }, showToken(c.text)),
        h('span', { class: 'bar-track' }, bar), h('span', { class: 'prob' }, pct(c.prob)));
    })));
}

function grid(lens: HostMessages['logitLens'], props: LogitLensProps): HTMLElement {
  const { layers, tokens, top, decisionDepth } = lens;
  const focus = props.cell ?? { layer: layers - 1, position: Math.min(props.selected, tokens.length - 1) };
  const table = h('table', { id: 'lens-grid', class: 'lens-grid', role: 'grid', tabindex: 0,
    'aria-label': 'Logit lens: rows are blocks (output at the top), columns are positions. Arrow keys move, Enter shows the top-k.',
    'aria-activedescendant': `ll-${focus.layer}-${focus.position}` });
  table.append(h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'block'),
    ...tokens.map((t, i) => h('th', { scope: 'col', class: i === props.selected ? 'sel' : '', title: `#${i} ${quote(t)}` }, showToken(t))))));
  const body = h('tbody', {});
  for (let l = layers - 1; l >= 0; l--) {
    body.append(h('tr', {}, h('th', { scope: 'row' }, l === layers - 1 ? `${l} out` : String(l)), ...tokens.map((t, i) => {
      const c = top[l][i][0];
      const cls = ['lens-cell', l === decisionDepth[i] ? 'settles' : '', l >= decisionDepth[i] ? 'settled' : '',
        i === props.selected ? 'sel' : '', props.cell?.layer === l && props.cell.position === i ? 'picked' : ''].filter(Boolean).join(' ');
      const td = h('td', { id: `ll-${l}-${i}`, role: 'gridcell', class: cls, 'data-layer': l, 'data-position': i,
        'aria-selected': props.cell?.layer === l && props.cell.position === i ? 'true' : 'false',
        title: `Block ${l}, after ${quote(t)}: ${quote(c.text)} ${pct(c.prob)}${l === decisionDepth[i] ? ' (settles here)' : ''}`,
        onclick: () => props.onPick(l, i) }, showToken(c.text));
      td.style.setProperty('--p', c.prob.toFixed(3));
      return td;
    })));
  }
  body.append(h('tr', { class: 'depth-row' }, h('th', { scope: 'row' }, 'settles'),
    ...decisionDepth.map((d, i) => h('td', { class: 'depth', title: `The final top-1 after #${i} holds from block ${d} on` }, String(d)))));
  table.append(body);
  table.addEventListener('keydown', (e) => {
    const at = props.cell ?? focus;
    const moves: Record<string, [number, number]> = { ArrowUp: [1, 0], ArrowDown: [-1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      props.onPick(at.layer, at.position);
    } else if (e.key in moves) {
      e.preventDefault();
      const [dl, dp] = moves[e.key];
      props.onPick(Math.max(0, Math.min(layers - 1, at.layer + dl)), Math.max(0, Math.min(tokens.length - 1, at.position + dp)));
    }
  });
  queueMicrotask(() => table.querySelector('.picked')?.scrollIntoView({ block: 'nearest', inline: 'nearest' }));
  return h('div', { class: 'lens-scroll' }, table);
}

export function logitLensView(props: LogitLensProps): HTMLElement {
  const { lens } = props;
  const how = collapsible('How to read the logit lens', false, null, { class: 'lens-how' }, ...HOW_TO_READ.map((p) => h('p', {}, p)));
  const status = lensStatusLine(props.status, props.onCancel, props.onRun, 'Run the logit lens');
  if (!lens) return h('div', {}, status ?? h('p', { class: 'muted' }, 'The logit lens runs when this tab opens.'), how);
  if (lens.note) return h('div', {}, status, h('p', { class: 'notice', role: 'note' }, `No logit lens: ${lens.note}`), how);
  return h('div', {}, status,
    h('p', { class: 'muted lens-summary' }, `${lens.layers} blocks × ${lens.tokens.length} positions. `
      + `The last token’s prediction settles at block ${lens.decisionDepth.at(-1)} of ${lens.layers - 1}.`),
    grid(lens, props),
    props.cell ? topK(lens, props.cell.layer, props.cell.position) : h('p', { class: 'muted' }, 'Click a cell (or press Enter on the grid) for its top-k.'),
    how);
}
