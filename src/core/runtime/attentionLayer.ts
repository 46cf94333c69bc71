// One layer's attention as the views use it: each head's T x T probabilities, and every head downsampled
// for the grid of all heads. Built in the forward-pass worker, so the editor's thread only forwards it.

/** Largest side of one head in a layer's grid: 32 x 32 keeps a 32-head layer under 33k numbers. */
export const GRID_MAX = 32;

export interface AttentionLayer {
  /** heads[h]: T x T row-major (query row, key column). */
  heads: Float32Array[];
  /** Every head downsampled to size x size (size = min(T, GRID_MAX)). */
  grid: { size: number; heads: number[][] };
}

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

/** A layer from its [heads, T, T] output (the heads are views of `data`), with its grid. */
export function attentionLayer(data: Float32Array, heads: number, T: number): AttentionLayer {
  const split = Array.from({ length: heads }, (_, h) => data.subarray(h * T * T, (h + 1) * T * T));
  const grids = split.map((w) => downsample(w, T));
  return { heads: split, grid: { size: grids[0]?.size ?? Math.min(T, GRID_MAX), heads: grids.map((g) => g.weights) } };
}

/** Bytes a layer keeps. */
export function layerBytes(layer: AttentionLayer): number {
  return layer.heads.reduce((a, h) => a + h.byteLength, 0) + layer.grid.heads.length * layer.grid.size ** 2 * 8;
}
