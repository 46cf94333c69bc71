// Attribution: why this next token? Each input token shaded by its raw score (blue: pushed toward the target,
// red: away from it), with the target and contrast picked from the candidates after the text, and the method.
import { h } from '../shared/dom';
import { ATTRIBUTION_METHOD_NAMES, type AttributionMethodName, type HostMessages } from '../../src/protocol/messages';
import { fixed, pct, quote, showToken } from './format';
import { lensStatusLine } from './logitLensView';
import { collapsible, labelled, select, slider } from '../shared/controls';
import type { AttributionRequest } from './state';

export interface AttributionProps {
  result: HostMessages['attribution'] | null;
  request: AttributionRequest;
  /** Why the engine has no gradient methods: the select then offers occlusion only, and this note. */
  gradientsNote?: string;
  status: HostMessages['lensStatus'] | null;
  /** The token whose score is read out (keyboard focus inside the strip). */
  active: number;
  onRequest: (r: AttributionRequest) => void;
  onCancel: () => void;
  onActive: (i: number) => void;
}

const METHOD_LABELS: { [M in AttributionMethodName]: string } = {
  occlusion: 'Occlusion (remove each token)',
  gradient: 'Gradient × input',
  'integrated-gradients': 'Integrated gradients',
};

const HOW_TO_READ = [
  'Each token is shaded by how much it raised (blue) or lowered (red) f, the log-probability of the target after the '
  + 'text, or with a contrast the target’s logit minus the contrast’s; the scores are raw, in the units of f.',
  'Occlusion removes one token and measures the change in f; gradient × input is the first-order estimate of the same; '
  + 'integrated gradients follow a path from the mean token embedding to the text, and their scores add up to f(text) − f(baseline).',
];

function stepsSlider(steps: number, onChange: (v: number) => void): HTMLElement {
  return slider('attr-steps', 'Steps', steps, { min: 8, max: 256, step: 8, live: false, spoken: (v) => `${v} steps` }, onChange);
}

/** A select with its label before it. */
const labelledSelect = (id: string, label: string, options: [string, string][], value: string, onChange: (v: string) => void) =>
  labelled(id, label, select(id, label, options, value, onChange));

function controls(props: AttributionProps): HTMLElement {
  const { request: r, result } = props;
  const cands = result?.candidates ?? [];
  const targetId = r.target ?? result?.target.id ?? null;
  const label = (c: { text: string; prob: number }) => `${showToken(c.text)}  ${pct(c.prob)}`;
  const targets: [string, string][] = cands.length ? cands.map((c, i) => [String(c.id), `${label(c)}${i === 0 ? ' (top-1)' : ''}`])
    : [['top', 'the top-1']];
  const methods = props.gradientsNote ? ['occlusion' as const] : ATTRIBUTION_METHOD_NAMES;
  const contrasts: [string, string][] = [['none', 'none: log p(target)'],
    ...cands.filter((c) => c.id !== targetId).map((c): [string, string] => [String(c.id), label(c)])];
  return h('div', { class: 'controls attr-controls', role: 'group', 'aria-label': 'Attribution settings' },
    labelledSelect('attr-method', 'Method', methods.map((m) => [m, METHOD_LABELS[m]]), r.method,
      (v) => props.onRequest({ ...r, method: v as AttributionMethodName })),
    labelledSelect('attr-target', 'Target', targets, targetId === null ? 'top' : String(targetId), (v) =>
      props.onRequest({ ...r, target: v === 'top' ? null : Number(v), contrast: r.contrast === Number(v) ? null : r.contrast })),
    labelledSelect('attr-contrast', 'Contrast', contrasts, r.contrast === null ? 'none' : String(r.contrast),
      (v) => props.onRequest({ ...r, contrast: v === 'none' ? null : Number(v) })),
    r.method === 'integrated-gradients' ? stepsSlider(r.steps, (steps) => props.onRequest({ ...r, steps })) : null,
    h('vscode-button', { id: 'attr-run', onclick: () => props.onRequest({ ...r }) }, 'Attribute'));
}

function scoreText(score: number): string {
  return `${score >= 0 ? '+' : '−'}${Math.abs(score).toFixed(3)}`;
}

/** The tokens shaded by score: one tab stop, arrows read out one token's score. */
function scoreStrip(a: HostMessages['attribution'], active: number, onActive: (i: number) => void): HTMLElement {
  const max = Math.max(...a.scores.map(Math.abs), 1e-12);
  const strip = h('div', { id: 'attr-strip', class: 'token-strip attr-strip', role: 'listbox', tabindex: 0,
    'aria-label': 'Tokens shaded by attribution score. Arrow keys read each score.', 'aria-activedescendant': `attr-${active}` });
  a.tokens.forEach((t, i) => {
    const s = a.scores[i];
    const el = h('span', { id: `attr-${i}`, role: 'option', 'aria-selected': i === active ? 'true' : 'false',
      class: `attr-tok ${s >= 0 ? 'pos' : 'neg'}${i === active ? ' selected' : ''}`, 'data-score': s,
      title: `#${i} ${quote(t)}: ${scoreText(s)}`, onclick: () => onActive(i) }, showToken(t) || '∅');
    el.style.setProperty('--a', (Math.abs(s) / max).toFixed(3));
    strip.append(el);
  });
  strip.addEventListener('keydown', (e) => {
    const step: Record<string, number> = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1, Home: -Infinity, End: Infinity };
    if (!(e.key in step)) return;
    e.preventDefault();
    onActive(Math.max(0, Math.min(a.tokens.length - 1, active + step[e.key])));
  });
  return strip;
}

function summary(a: HostMessages['attribution']): HTMLElement {
  const f = a.contrast ? `logit(${quote(a.target.text)}) − logit(${quote(a.contrast.text)})` : `log p(${quote(a.target.text)})`;
  const sum = a.scores.reduce((s, x) => s + x, 0);
  const parts: (string | HTMLElement)[] = [`${METHOD_LABELS[a.method]} of f = `, h('code', {}, f), ` = ${fixed(a.value, 3)}.`];
  if (a.baselineValue !== null) {
    parts.push(` From the baseline (${a.baseline}, f = ${fixed(a.baselineValue, 3)}) in ${a.steps} steps: the scores add up to `
      + `${fixed(sum, 3)}, f(text) − f(baseline) = ${fixed(a.value - a.baselineValue, 3)}.`);
  }
  return h('p', { class: 'attr-summary' }, ...parts);
}

function strongest(a: HostMessages['attribution']): HTMLElement {
  const order = a.scores.map((s, i) => i).sort((x, y) => Math.abs(a.scores[y]) - Math.abs(a.scores[x])).slice(0, 6);
  return h('table', { class: 'attr-top', 'aria-label': 'The tokens with the largest scores' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'position'), h('th', { scope: 'col' }, 'token'), h('th', { scope: 'col' }, 'score'))),
    h('tbody', {}, ...order.map((i) => h('tr', {}, h('td', {}, String(i)), h('td', {}, h('code', {}, showToken(a.tokens[i]))),
      h('td', { class: a.scores[i] >= 0 ? 'pos' : 'neg' }, scoreText(a.scores[i]))))));
}

export function attributionView(props: AttributionProps): HTMLElement {
  const a = props.result;
  const how = collapsible('How to read attribution', false, null, { class: 'lens-how' }, ...HOW_TO_READ.map((p) => h('p', {}, p)));
  const status = lensStatusLine(props.status, props.onCancel, () => props.onRequest({ ...props.request }), 'Attribute again');
  const active = a ? Math.min(props.active, a.tokens.length - 1) : 0;
  return h('div', {}, controls(props),
    props.gradientsNote ? h('p', { class: 'notice attr-methods-note', role: 'note' }, `Occlusion only: ${props.gradientsNote}.`) : null,
    status,
    a ? summary(a) : h('p', { class: 'muted' }, 'Attribution runs when this tab opens, for the most likely next token.'),
    a ? h('div', { class: 'legend', role: 'note' }, h('span', { class: 'legend-item' }, h('span', { class: 'swatch attr-pos' }), `raises f (toward ${quote(a.target.text)})`),
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch attr-neg' }), 'lowers f')) : null,
    a ? scoreStrip(a, active, props.onActive) : null,
    a ? h('p', { class: 'summary', 'aria-live': 'polite', id: 'attr-readout' },
      `#${active} ${quote(a.tokens[active])}: ${scoreText(a.scores[active])}`) : null,
    a ? strongest(a) : null,
    how);
}
