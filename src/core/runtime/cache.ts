// A small LRU of analyses, bounded by count and bytes, so that questions about another position,
// other sampling controls or the attention of another head are lookups, not forward passes.
import type { Analysis } from './analysis';

export class AnalysisCache {
  private readonly entries = new Map<string, Analysis>();

  constructor(private readonly maxEntries = 8, private readonly maxBytes = 1.5e9) {}

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
    let bytes = [...this.entries.values()].reduce((a, e) => a + e.byteSize, 0);
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= 1 || (this.entries.size <= this.maxEntries && bytes <= this.maxBytes)) break;
      this.entries.delete(key);
      bytes -= entry.byteSize;
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

function keyOf(text: string, limit: number, attention: boolean, preceding: number): string {
  return `${attention ? 'a' : '-'}${limit}/${preceding}:${text}`;
}
