// Incremental re-analysis: the KV caches (past_key_values) of recent analyses stay in the forward-pass
// worker, so that after an edit the model runs only from the first token that changed. Typing at the end
// of a 1,000-token file then costs a few tokens of compute instead of a thousand.
//
// Row t of an analysis (the distribution after token t, and the score of token t+1) depends on tokens
// 0..t+1 only. When an edited text's first c tokens are those of a kept analysis, rows 0..c-2 are taken
// from it and the pass starts at token c-1 over the cache of the c-1 tokens before it: row c-1 scores
// token c, which may have changed.
import type { Analysis } from './analysis';
import type { MemoryBudget } from './cache';
import type { ForwardResult } from './forward';
import type { ForwardThread, KvRequest } from './forwardThread';
import type { Ranked } from './topRows';

interface Kept {
  state: number;
  ids: number[];
  analysis: Analysis;
}

/** How to run one analysis: from which token, continuing which kept cache, keeping the new one under `keep`. */
export interface Plan {
  /** Tokens whose cache is reused (0: a full pass). */
  reused: number;
  /** The analysis whose rows 0..reused-1 are taken. */
  source?: Analysis;
  request: KvRequest & { keep: number };
}

export type Rows = Ranked & { scores: NonNullable<ForwardResult['scores']> };

export class KeptCaches {
  /** Oldest first. */
  private readonly kept: Kept[] = [];
  private nextState = 0;

  /**
   * `bytesPerToken`: what one position of the cache takes (every layer's keys and values). `max`: caches kept
   * at once (one per document being edited is what typing needs).
   */
  constructor(private readonly thread: ForwardThread, private readonly memory: MemoryBudget,
    private readonly bytesPerToken: number, private readonly max = 2) {}

  /** Plans a pass over `ids`: continues the kept cache that shares the longest prefix with them, if any. */
  plan(ids: number[]): Plan {
    let best: { kept: Kept; reused: number } | undefined;
    for (const kept of this.kept) {
      const reused = sharedPrefix(kept.ids, ids) - 1;
      if (reused >= 1 && reused > (best?.reused ?? 0)) best = { kept, reused };
    }
    const keep = this.nextState++;
    if (!best) return { reused: 0, request: { keep } };
    // Used last: the cache that typing continues from stays while others go.
    this.kept.push(...this.kept.splice(this.kept.indexOf(best.kept), 1));
    this.memory.touch(best.kept);
    return { reused: best.reused, source: best.kept.analysis, request: { keep, from: { state: best.kept.state, length: best.reused } } };
  }

  /** Records the cache a planned pass kept, for the analysis it made. */
  add(plan: Plan, ids: number[], analysis: Analysis): void {
    const kept: Kept = { state: plan.request.keep, ids, analysis };
    const bytes = ids.length * this.bytesPerToken;
    if (!this.memory.hold(kept, bytes, () => this.forget(kept))) {
      this.thread.dropState(kept.state);
      return;
    }
    this.kept.push(kept);
    while (this.kept.length > this.max) {
      const oldest = this.kept[0];
      this.memory.release(oldest);
      this.forget(oldest);
    }
  }

  /** The worker kept a cache for a plan that produced no analysis: let it go. */
  abandon(plan: Plan): void {
    this.thread.dropState(plan.request.keep);
  }

  clear(): void {
    for (const kept of [...this.kept]) {
      this.memory.release(kept);
      this.forget(kept);
    }
  }

  private forget(kept: Kept): void {
    const i = this.kept.indexOf(kept);
    if (i >= 0) this.kept.splice(i, 1);
    this.thread.dropState(kept.state);
  }
}

/** How many tokens two sequences share from the start. */
export function sharedPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Rows taken from an earlier analysis, then the rows a continued pass computed: one analysis's rows. The
 * full logits are not joined: what typing needs (scores, ranks, candidates) is here, and copying [T, V]
 * would cost more than the pass; a view that wants a full row has it recomputed.
 */
export function joinRows(lead: Rows, rest: ForwardResult & { ranked: Ranked; scores: Rows['scores'] }): Rows {
  const { k } = rest.ranked.top;
  if (lead.top.k !== k) throw new Error('the kept rows keep another number of candidates');
  return {
    ranks: concat(Int32Array, lead.ranks, rest.ranked.ranks),
    top: { k, ids: concat(Int32Array, lead.top.ids, rest.ranked.top.ids), logits: concat(Float32Array, lead.top.logits, rest.ranked.top.logits) },
    scores: {
      targetLogprob: concat(Float32Array, lead.scores.targetLogprob, rest.scores.targetLogprob),
      logSumExp: concat(Float32Array, lead.scores.logSumExp, rest.scores.logSumExp),
    },
  };
}

function concat<A extends Float32Array | Int32Array>(Kind: { new(n: number): A }, a: A, b: A): A {
  const out = new Kind(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
