// explain on a masked language model: the distribution at each mask the text holds.
import type { Analysis } from '../core/runtime/analysis';
import type { Engine } from '../core/engines/engine';
import type { Candidate } from '../core/types';
import { percent } from '../core/numberFormat';
import { UsageError } from './args';

export interface MaskPrediction {
  /** Index in `tokens`. */
  index: number;
  start: number;
  end: number;
  candidates: Candidate[];
}

/** The k best fill-ins at every mask token of the text, in text order. */
export function maskPredictions(session: Pick<Engine, 'info' | 'ref'>, a: Analysis, k: number): MaskPrediction[] {
  return a.tokens.flatMap((t, index) => (t.id === session.info.maskId
    ? [{ index, start: t.start, end: t.end, candidates: a.topK(index, k) }]
    : []));
}

/** The lenses read next-token predictions: a masked model has none. */
export function refuseNextTokenLenses(session: Pick<Engine, 'info' | 'ref'>, lenses: { logitLens: boolean; attribution?: unknown }): void {
  if (session.info.objective !== 'masked' || (!lenses.logitLens && !lenses.attribution)) return;
  const flag = lenses.logitLens ? '--logit-lens' : '--attribution';
  throw new UsageError(`${flag} explains a causal model's next-token prediction; ${session.ref} is a masked language model ` +
    `(it fills in ${session.info.maskToken}): explain it without ${flag}.`);
}

export function printMasks(session: Pick<Engine, 'info' | 'ref'>, masks: MaskPrediction[]): void {
  const out: string[] = [];
  if (!masks.length) out.push(`no ${session.info.maskToken} in the text: write one where the model should fill in the blank.`);
  for (const m of masks) {
    out.push(`fill in ${session.info.maskToken} at token ${m.index} (offset ${m.start}):`);
    for (const c of m.candidates) out.push(`  ${percent(c.prob).padStart(7)}  logit ${c.logit.toFixed(3).padStart(8)}  ${JSON.stringify(c.text)}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
