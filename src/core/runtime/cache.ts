// What Token Lens keeps in memory between questions, bounded by one budget (tokenLens.memoryBudgetMB).
// - MemoryBudget: a byte-bounded LRU of the large parts that can be recomputed (the [T, V] logits of
//   each analysis), shared by every analysis of a model, so a second question about the same text is a
//   lookup while memory stays bounded however many documents are open. The small parts every live
//   analysis keeps (scores, top candidates, attention) count against the same budget until it is
//   garbage-collected.
// - AnalysisCache: recent analyses by text, so asking again about the same text runs nothing.
import type { Analysis } from './analysis';

export const DEFAULT_MEMORY_BUDGET_MB = 300;

interface Held {
  bytes: number;
  drop: () => void;
}

export class MemoryBudget {
  private readonly held = new Map<object, Held>();
  private used = 0;
  private pinned = 0;
  private readonly unpin = new FinalizationRegistry<number>((bytes) => { this.pinned -= bytes; });

  constructor(private budget = DEFAULT_MEMORY_BUDGET_MB * 2 ** 20) {}

  get budgetBytes(): number {
    return this.budget;
  }

  set budgetBytes(bytes: number) {
    this.budget = bytes;
    this.evict();
  }

  /** Bytes kept now: what can be let go, plus what live analyses pin. */
  get usedBytes(): number {
    return this.used + this.pinned;
  }

  /** Counts `bytes` that `owner` keeps for as long as it lives (they leave the count once it is collected). */
  pin(owner: object, bytes: number): void {
    this.pinned += bytes;
    this.unpin.register(owner, bytes);
    this.evict();
  }

  /**
   * Keeps `bytes` for `owner` until the budget needs them back, then calls `drop`. Returns false (and
   * keeps nothing) when `bytes` alone exceed the budget.
   */
  hold(owner: object, bytes: number, drop: () => void): boolean {
    this.release(owner);
    if (this.pinned + bytes > this.budget) return false;
    this.held.set(owner, { bytes, drop });
    this.used += bytes;
    this.evict();
    return true;
  }

  /** Marks `owner` as just used: it is dropped last. */
  touch(owner: object): void {
    const h = this.held.get(owner);
    if (!h) return;
    this.held.delete(owner);
    this.held.set(owner, h);
  }

  release(owner: object): void {
    const h = this.held.get(owner);
    if (!h) return;
    this.held.delete(owner);
    this.used -= h.bytes;
  }

  clear(): void {
    for (const owner of [...this.held.keys()]) this.dropOne(owner);
  }

  private evict(): void {
    for (const owner of this.held.keys()) {
      if (this.used + this.pinned <= this.budget) break;
      this.dropOne(owner);
    }
  }

  private dropOne(owner: object): void {
    const h = this.held.get(owner)!;
    this.release(owner);
    h.drop();
  }
}

/** A small LRU of analyses by text, bounded by count and by the bytes the analyses pin. */
export class AnalysisCache {
  private readonly entries = new Map<string, Analysis>();

  constructor(private readonly maxEntries = 8, private readonly maxBytes = () => DEFAULT_MEMORY_BUDGET_MB * 2 ** 20) {}

  get(text: string, limit: number, attention: boolean, preceding = 0): Analysis | undefined {
    // An analysis with attention also answers a question without it.
    for (const withAttention of attention ? [true] : [false, true]) {
      const key = keyOf(text, limit, withAttention, preceding);
      const hit = this.entries.get(key);
      if (hit) {
        this.entries.delete(key);
        this.entries.set(key, hit);
        return hit;
      }
    }
    return undefined;
  }

  set(text: string, limit: number, attention: boolean, analysis: Analysis, preceding = 0): void {
    this.entries.set(keyOf(text, limit, attention, preceding), analysis);
    let bytes = [...this.entries.values()].reduce((a, e) => a + e.pinnedBytes, 0);
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= 1 || (this.entries.size <= this.maxEntries && bytes <= this.maxBytes())) break;
      this.entries.delete(key);
      bytes -= entry.pinnedBytes;
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

function keyOf(text: string, limit: number, attention: boolean, preceding: number): string {
  return `${attention ? 'a' : '-'}${limit}/${preceding}:${text}`;
}
