// The attention of one analysis, kept as the views use it. Every layer and head as T x T float32 is
// layers * heads * T^2 * 4 bytes: 600 MB for GPT-2 small at 1,024 tokens. The panel shows one head and the
// grid of its layer at a time, so a layer is fetched when it is asked for (a forward pass that fetches only
// that layer's attention output), kept while the shared MemoryBudget has room (at most LAYERS_KEPT per
// analysis), and fetched again after it was let go. A layer stays exact float32: it is what the model computed.
import type { AttentionData } from '../types';
import { type AttentionLayer, layerBytes } from './attentionLayer';
import type { MemoryBudget } from './cache';

/** The layer on screen and the one before it: switching back is a lookup. */
export const LAYERS_KEPT = 2;

export class AttentionStore {
  /** Kept layers, least recently used first. */
  private readonly kept = new Map<number, AttentionLayer>();
  private readonly loading = new Map<number, Promise<AttentionLayer>>();
  /** One owner per layer in the memory budget. */
  private readonly owners: object[];

  constructor(readonly data: AttentionData, private readonly fetch: (layers: number[]) => Promise<AttentionLayer[]>,
    private readonly memory: MemoryBudget, first?: { layer: number; value: AttentionLayer }) {
    this.owners = Array.from({ length: data.layers }, () => ({}));
    if (first) this.keep(first.layer, first.value);
  }

  /** Bytes kept now (the memory budget counts them too). */
  get keptBytes(): number {
    let bytes = 0;
    for (const layer of this.kept.values()) bytes += layerBytes(layer);
    return bytes;
  }

  /** Which layers are kept now, least recently used first. */
  get keptLayers(): number[] {
    return [...this.kept.keys()];
  }

  /** One layer: kept, or fetched with one forward pass. */
  async layer(layer: number): Promise<AttentionLayer> {
    return (await this.layers([layer]))[0];
  }

  /** Several layers; those not kept are fetched together, in one forward pass. */
  async layers(layers: number[]): Promise<AttentionLayer[]> {
    for (const l of layers) {
      if (!Number.isInteger(l) || l < 0 || l >= this.data.layers) throw new RangeError(`layer ${l} is outside 0..${this.data.layers - 1}`);
    }
    const found = new Map<number, AttentionLayer>();
    const waits: Promise<unknown>[] = [];
    const missing: number[] = [];
    for (const l of new Set(layers)) {
      const kept = this.kept.get(l);
      const loading = this.loading.get(l);
      if (kept) {
        this.touch(l, kept);
        found.set(l, kept);
      } else if (loading) {
        waits.push(loading.then((value) => found.set(l, value)));
      } else {
        missing.push(l);
      }
    }
    if (missing.length) {
      const fetched = this.fetch(missing);
      missing.forEach((l, i) => {
        const one = fetched.then((all) => all[i]);
        this.loading.set(l, one);
        void one.catch(() => undefined).finally(() => {
          if (this.loading.get(l) === one) this.loading.delete(l);
        });
      });
      const all = await fetched;
      missing.forEach((l, i) => found.set(l, all[i]));
      // Kept last to first, so that the first layer asked for is the last to go.
      for (let i = missing.length - 1; i >= 0; i--) this.keep(missing[i], all[i]);
    }
    await Promise.all(waits);
    return layers.map((l) => found.get(l)!);
  }

  /** Lets every kept layer go (they are fetched again when asked for). */
  clear(): void {
    for (const l of [...this.kept.keys()]) this.memory.release(this.owners[l]);
    this.kept.clear();
  }

  private keep(l: number, layer: AttentionLayer): void {
    this.kept.delete(l);
    this.kept.set(l, layer);
    for (const old of [...this.kept.keys()].slice(0, Math.max(0, this.kept.size - LAYERS_KEPT))) {
      this.kept.delete(old);
      this.memory.release(this.owners[old]);
    }
    // A layer larger than the whole budget is used once and not kept.
    if (!this.memory.hold(this.owners[l], layerBytes(layer), () => { this.kept.delete(l); })) this.kept.delete(l);
  }

  private touch(l: number, layer: AttentionLayer): void {
    this.kept.delete(l);
    this.kept.set(l, layer);
    this.memory.touch(this.owners[l]);
  }
}
