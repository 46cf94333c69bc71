// The probe, before and after: what the model predicts at the prompt's end, and its loss on every token.
import { h } from '../shared/dom';
import type { FineTuneComparison, ProbeResult } from '../../src/protocol/finetune';
import { compareSection } from '../explain/compare';
import { fixed, lossBand, pct, quote, showToken } from '../explain/format';

function bar(prob: number): HTMLElement {
  const el = h('span', { class: 'bar-fill' });
  el.style.width = `${(100 * prob).toFixed(1)}%`;
  return el;
}

function card(id: string, title: string, p: ProbeResult | null, pending: string): HTMLElement {
  if (!p) return h('div', { class: 'probe-card empty', id }, h('h3', {}, title), h('p', { class: 'muted' }, pending));
  const target = p.targetTokens.join('');
  return h('div', { class: 'probe-card', id },
    h('h3', {}, title),
    p.targetProb === null ? null : h('p', { class: 'probe-target' },
      h('span', { class: 'target-prob', title: 'P(target | prompt): the product of its tokens\u2019 probabilities' },
        `P(${quote(target)}) = ${pct(p.targetProb)}`),
      h('span', { class: 'muted' }, ` · first token ${quote(p.targetTokens[0])} rank ${p.targetRank}`)),
    h('ol', { class: 'probe-top', 'aria-label': `${title}: most likely next tokens after the prompt` },
      ...p.top.map((c) => h('li', { class: c.text === p.targetTokens[0] ? 'hit' : '' },
        h('span', { class: 'cand-text' }, showToken(c.text)),
        h('span', { class: 'bar' }, bar(c.prob)),
        h('span', { class: 'prob' }, pct(c.prob))))),
    h('p', { class: 'muted' }, `Mean loss on prompt + target: ${fixed(p.meanLoss, 3)} nats`),
    p.note ? h('p', { class: 'notice', role: 'note' }, p.note) : null);
}

/** Loss of each token of prompt + target before and after, side by side (the same tokenizer both times). */
function lossTable(before: ProbeResult, after: ProbeResult | null): HTMLElement {
  const cell = (loss: number | null | undefined) =>
    h('td', { class: `num heat-${lossBand(loss ?? null)}` }, loss === null || loss === undefined ? '–' : fixed(loss));
  return h('table', { class: 'probe-losses', id: 'ft-probe-losses' },
    h('caption', {}, 'Loss per token (nats)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'token'), h('th', { scope: 'col' }, 'before'), h('th', { scope: 'col' }, 'after'))),
    h('tbody', {}, ...before.tokens.map((t, i) => h('tr', { class: t.target ? 'target' : '' },
      h('th', { scope: 'row', class: 'cand-text' }, showToken(t.text)), cell(t.loss), cell(after?.tokens[i]?.loss)))));
}

export function probeView(before: ProbeResult | null, after: ProbeResult | null, running: boolean,
  comparison: FineTuneComparison | null = null, width = 400): HTMLElement {
  return h('div', { class: 'probe' },
    h('div', { class: 'probe-cards' },
      card('ft-probe-before', 'Before', before, running ? 'Computed when the run starts.' : 'Start a run to probe the model.'),
      card('ft-probe-after', 'After', after, running ? 'Computed when training ends.' : '–')),
    comparison ? beforeAfter(comparison, width) : before ? lossTable(before, after) : null);
}

/** The compare lens, before (A) against after (B): on the whole probe text, then on held-out text. */
function beforeAfter(c: FineTuneComparison, width: number): HTMLElement {
  return h('div', { class: 'ft-compare', id: 'ft-compare' },
    h('h3', {}, 'What the run changed: the probe text'),
    ...compareSection(c.probe, width, undefined, 'ft-probe-'),
    h('h3', {}, 'On held-out text'),
    h('p', { class: 'muted' }, `From ${c.heldOut.source}: where a fine-tune forgets, B is worse here.`),
    ...compareSection(c.heldOut, width, undefined, 'ft-held-'));
}
