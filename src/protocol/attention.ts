// Turns runtime attention (Float32Array per head) into the plain arrays the webview messages carry.
import type { AttentionData } from '../core/types';
import type { HostMessage } from './messages';

/** Largest side of one head in an `attentionGrid`: 32 x 32 keeps a 32-head layer under 33k numbers. */
export const GRID_MAX = 32;

/**
 * Downsamples a row-major n x n attention matrix to m x m (m = min(n, maxSize)). Block (bi, bj) covers
 * source rows [floor(bi n / m), floor((bi+1) n / m)) and likewise columns, so every cell lands in exactly
 * one block. Rows are averaged and columns summed: each downsampled row is still a distribution (sums to 1).
 */
export function downsample(weights: ArrayLike<number>, n: number, maxSize = GRID_MAX): { size: number; weights: number[] } {
  const m = Math.min(n, maxSize);
  const out = new Array<number>(m * m).fill(0);
  for (let bi = 0; bi < m; bi++) {
    const r0 = Math.floor((bi * n) / m), r1 = Math.floor(((bi + 1) * n) / m);
    for (let bj = 0; bj < m; bj++) {
      const c0 = Math.floor((bj * n) / m), c1 = Math.floor(((bj + 1) * n) / m);
      let sum = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) sum += weights[r * n + c];
      out[bi * m + bj] = sum / (r1 - r0);
    }
  }
  return { size: m, weights: out };
}

export function attentionMessage(data: AttentionData, layer: number, head: number): HostMessage<'attention'> {
  return { type: 'attention', layer, head, size: data.size, weights: Array.from(data.weights[layer][head]) };
}

export function attentionGridMessage(data: AttentionData, layer: number, maxSize = GRID_MAX): HostMessage<'attentionGrid'> {
  let size = Math.min(data.size, maxSize);
  const heads = data.weights[layer].map((w) => {
    const d = downsample(w, data.size, maxSize);
    size = d.size;
    return d.weights;
  });
  return { type: 'attentionGrid', layer, size, heads };
}
