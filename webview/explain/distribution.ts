// The next-token distribution at the selected position, and the sampling controls that reshape it.
import { h } from '../shared/dom';
import type { Candidate, SamplingControls, ScoredToken } from '../../src/core/types';
import { fixed, pct, quote, showToken } from './format';
import { labelled, numberField, slider } from '../shared/controls';

export interface DistributionProps {
  candidates: Candidate[];
  kept?: number;
  controls: SamplingControls;
  vocabSize: number;
  /** The token that actually followed, when the selected position is not the last. */
  actualNext: ScoredToken | undefined;
  /** Candidates can be appended only after the last token. */
  canAppend: boolean;
  onControls: (c: SamplingControls) => void;
  onAppend: (c: Candidate) => void;
  onCopy: (text: string) => void;
}

export function samplingControls(controls: SamplingControls, vocabSize: number, onChange: (c: SamplingControls) => void): HTMLElement {
  let current = { ...controls };
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Sliders fire on every pixel; the host recomputes over the whole vocab, so send only when the hand rests.
  const change = (patch: Partial<SamplingControls>) => {
    current = { ...current, ...patch };
    clearTimeout(timer);
    timer = setTimeout(() => onChange(current), 120);
  };
  const reset = h('vscode-button', { id: 'ctl-reset', secondary: true, title: 'Temperature 1, no top-k or top-p cut',
    onclick: () => { clearTimeout(timer); onChange({ temperature: 1, topK: 0, topP: 1 }); } }, 'Reset');
  return h('div', { class: 'controls', role: 'group', 'aria-label': 'Sampling controls' },
    slider('ctl-temp', 'Temperature', controls.temperature, {
      min: 0.05, max: 2, step: 0.05, live: true, shown: (v) => v.toFixed(2), spoken: (v) => v.toFixed(2),
      hint: 'Divides the logits before softmax. Below 1 sharpens the distribution, above 1 flattens it.',
    }, (v) => change({ temperature: v })),
    labelled('ctl-topk', 'Top-k',
      numberField('ctl-topk', 'Top-k', controls.topK, { min: 0, max: vocabSize, step: 1, whenEmpty: 0, describedBy: 'ctl-topk-hint' },
        (v) => change({ topK: v })),
      h('span', { id: 'ctl-topk-hint', class: 'control-hint' }, '0 = off')),
    slider('ctl-topp', 'Top-p', controls.topP, {
      min: 0.05, max: 1, step: 0.05, live: true, shown: (v) => v.toFixed(2), spoken: (v) => (v >= 1 ? 'off' : v.toFixed(2)),
      hint: 'Keeps the smallest set of most likely tokens whose probabilities add up to p; 1 = off.',
    }, (v) => change({ topP: v })),
    reset,
  );
}

export function distributionTable(p: DistributionProps): HTMLElement {
  const max = Math.max(1e-12, ...p.candidates.map((c) => c.prob));
  // When every kept token is listed they hold all of it; summing would show float error as ">99.9%".
  const all = p.kept !== undefined && p.candidates.length >= p.kept;
  const shownMass = all ? 1 : p.candidates.reduce((a, c) => a + c.prob, 0);
  const rows = p.candidates.map((c, i) => {
    const isActual = p.actualNext !== undefined && p.actualNext.id === c.id;
    const bar = h('span', { class: 'bar-fill' });
    bar.style.width = `${(100 * c.prob) / max}%`;
    const cells = [
      h('span', { class: 'rank' }, i + 1),
      h('span', { class: 'cand-text' }, showToken(c.text)),
      h('span', { class: 'bar', 'aria-hidden': 'true' }, bar),
      h('span', { class: 'prob' }, pct(c.prob)),
      h('span', { class: 'logit', title: 'Logit: the raw score before softmax' }, fixed(c.logit)),
    ];
    const label = `${quote(c.text)}: probability ${pct(c.prob)}, logit ${fixed(c.logit)}${isActual ? ', the token that actually came next' : ''}`;
    const cls = `cand${isActual ? ' actual' : ''}${c.prob === 0 ? ' cut' : ''}`;
    if (!p.canAppend) return h('li', { class: cls, 'aria-label': label }, ...cells);
    // A native button: the row's cells lay out on the list's grid, which a vscode-button's shadow box would break.
    return h('li', { class: cls },
      h('button', { type: 'button', class: 'cand-button', 'aria-label': `Append ${label}`,
        title: `Append ${quote(c.text)} to the text and explain again`, onclick: () => p.onAppend(c) }, ...cells));
  });
  const copyText = p.candidates.map((c) => `${JSON.stringify(c.text)}\t${c.prob.toFixed(6)}\t${c.logit.toFixed(4)}`).join('\n');
  return h('div', { class: 'distribution' },
    h('div', { class: 'cand-head', 'aria-hidden': 'true' },
      h('span', { class: 'rank' }, '#'), h('span', { class: 'cand-text' }, 'token'), h('span', { class: 'bar' }),
      h('span', { class: 'prob' }, 'prob'), h('span', { class: 'logit' }, 'logit')),
    h('ol', { class: 'cands', 'aria-label': 'Most likely next tokens' }, ...rows),
    h('div', { class: 'dist-foot' },
      h('span', { class: 'muted' }, `Top ${p.candidates.length} of ${p.vocabSize} tokens hold ${pct(shownMass)} of the probability`
        + (p.kept !== undefined && p.kept < p.vocabSize ? ` (sampling keeps ${p.kept}).` : '.')
        + (p.canAppend ? ' Click a token to append it.' : ' Select the last token to continue the text.')),
      h('vscode-button', { id: 'copy-cands', secondary: true, onclick: () => p.onCopy(copyText), title: 'Copy as tab-separated text' }, 'Copy')),
  );
}
