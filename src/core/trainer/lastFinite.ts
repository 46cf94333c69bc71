// The training state as it was at the last step whose loss was finite: weights, optimizer moments and the
// batch sampler. When an update blows the weights up, the next loss is NaN or infinite; the trainer then
// goes back to this state, so that the checkpoint it saves (and a resume from it) starts from weights that work.
import type { OptimState, Params } from './optim';

export interface TrainState {
  step: number;
  rngState: number;
  params: Params;
  optim: OptimState;
}

export class LastFinite {
  private kept: { step: number; rngState: number; optimStep: number; params: Params; slots: Map<string, Float32Array[]> } | null = null;

  /** Copies `s` (called with a finite loss, just before the optimizer changes the weights). Buffers are reused. */
  keep(s: TrainState): void {
    const k = this.kept ??= { step: 0, rngState: 0, optimStep: 0, params: new Map(), slots: new Map() };
    k.step = s.step;
    k.rngState = s.rngState;
    k.optimStep = s.optim.step;
    for (const [name, p] of s.params) copyInto(k.params, name, p);
    for (const [name, list] of s.optim.slots) {
      const into = k.slots.get(name) ?? [];
      list.forEach((a, i) => { into[i] ??= new Float32Array(a.length); into[i].set(a); });
      k.slots.set(name, into);
    }
  }

  /** Puts the kept state back into `s`, in place; returns the step it belongs to (null: nothing kept). */
  restore(s: TrainState): number | null {
    const k = this.kept;
    if (!k) return null;
    for (const [name, p] of s.params) p.set(k.params.get(name)!);
    for (const [name, list] of s.optim.slots) list.forEach((a, i) => a.set(k.slots.get(name)![i]));
    s.optim.step = k.optimStep;
    s.step = k.step;
    s.rngState = k.rngState;
    return k.step;
  }
}

function copyInto(into: Params, name: string, a: Float32Array): void {
  let b = into.get(name);
  if (!b) into.set(name, (b = new Float32Array(a.length)));
  b.set(a);
}
