// Whether onnxruntime's worker threads should spin or block between kernels, measured rather than guessed.
//
// A training step of a small model is hundreds of short kernels. Threads that spin between them start each
// kernel at once: 16-18% less time per step on an idle 2-core machine. Threads that block are woken for
// every kernel, but on a busy machine spinning ones fight the other processes for the cores and were
// measured 2-5x slower. A training run repeats the same step thousands of times, so both are timed: a trial
// of each at the start, then the other one again every so often (the machine's load changes; less often
// while it keeps losing), keeping the quicker. Both give the same numbers to the bit: only how the threads
// wait differs.
export type WaitMode = 'spin' | 'block';

/** Timed runs of each mode in the first trial and in every later probe. */
const TRIAL_RUNS = 5;
/** A session's first runs (memory being allocated) are not timed. */
const WARM_RUNS = 2;
/** Runs between two probes of the mode not in use; doubled after each probe it loses, up to the most. */
const PROBE_EVERY = 64;
const PROBE_EVERY_MOST = 1024;
/** The other mode must be this much quicker to be switched to. */
const MARGIN = 0.95;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const other = (m: WaitMode): WaitMode => (m === 'spin' ? 'block' : 'spin');

export class SpinChoice {
  /** The mode in use once the trial is over. */
  private chosen: WaitMode = 'spin';
  /** The modes of the runs planned next (the trial, then each probe), consumed one per run. */
  private plan: WaitMode[] = [];
  private readonly recent: Record<WaitMode, number[]> = { spin: [], block: [] };
  private readonly runs: Record<WaitMode, number> = { spin: 0, block: 0 };
  private sinceProbe = 0;
  private probeEvery = PROBE_EVERY;
  /** False until the first trial is decided (it does not count as a lost probe). */
  private probed = false;

  constructor() {
    for (let i = 0; i < TRIAL_RUNS; i++) this.plan.push('spin', 'block');
  }

  /** The mode the next run should use. */
  next(): WaitMode {
    if (this.plan.length) return this.plan[0];
    if (++this.sinceProbe >= this.probeEvery) {
      this.sinceProbe = 0;
      this.recent[other(this.chosen)] = [];
      this.plan = Array.from({ length: TRIAL_RUNS }, () => other(this.chosen));
      return this.plan[0];
    }
    return this.chosen;
  }

  /** How long a run in `mode` took. A mode's first runs (its session warming up) do not count. */
  record(mode: WaitMode, ms: number): void {
    const planned = this.plan.length > 0 && this.plan[0] === mode;
    if (planned) this.plan.shift();
    if (++this.runs[mode] <= WARM_RUNS) {
      if (planned) this.plan.unshift(mode);
      return;
    }
    const times = this.recent[mode];
    times.push(ms);
    if (times.length > TRIAL_RUNS) times.shift();
    if (planned && this.plan.length === 0) this.decide();
  }

  /** The mode in use (after the trial). */
  get mode(): WaitMode {
    return this.chosen;
  }

  /**
   * Keeps the quicker mode. A probe that loses makes the next one come later (on a busy machine each probe of
   * spinning threads is a few slow steps); a switch brings probing back to its first pace.
   */
  private decide(): void {
    const [a, b] = [this.recent[this.chosen], this.recent[other(this.chosen)]];
    if ((a.length && b.length && median(b) < median(a) * MARGIN) || (!a.length && b.length)) {
      this.chosen = other(this.chosen);
      this.probeEvery = PROBE_EVERY;
    } else if (this.probed) {
      this.probeEvery = Math.min(PROBE_EVERY_MOST, this.probeEvery * 2);
    }
    this.probed = true;
  }
}
