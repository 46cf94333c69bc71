// The best candidates of every position, kept after the logits are let go. A hover asks for the top-k at
// any position of any open document; keeping a [T, K] table costs K/V of the logits (0.2% for GPT-2) and
// answers without running the model again.

/** Every view asks for at most this many candidates (`tokenLens.topK` is capped at 100). */
export const TOP_KEPT = 100;

export interface TopRows {
  /** How many candidates each row keeps: min(TOP_KEPT, vocabulary). */
  k: number;
  /** Row-major [T, k], best first (ties: lower id first). */
  ids: Int32Array;
  logits: Float32Array;
}

export interface Ranked {
  ranks: Int32Array;
  top: TopRows;
}

/** The token that follows each position of `ids` (-1 after the last). */
export function nextTargets(ids: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: ids.length }, (_, t) => (t + 1 < ids.length ? ids[t + 1] : -1));
}

/**
 * One pass over each row of `logits` ([T, V] row-major) finds both the rank of the token that follows
 * (targets[t], -1 for none) and the row's k best candidates. Ranks: 1 + how many logits are strictly larger.
 */
export function rankAndTop(logits: Float32Array, vocabSize: number, targets: ArrayLike<number>,
  k = TOP_KEPT): Ranked {
  const T = targets.length;
  k = Math.min(k, vocabSize);
  const ranks = new Int32Array(T);
  const ids = new Int32Array(T * k);
  const vals = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    const row = logits.subarray(t * vocabSize, (t + 1) * vocabSize);
    const target = targets[t];
    const bar = target >= 0 ? row[target] : Infinity;
    const base = t * k;
    let n = 0;
    let floor = -Infinity;
    let above = 0;
    for (let i = 0; i < vocabSize; i++) {
      const v = row[i];
      // Number(bool) keeps the rank branch-free (as in rankOf); most logits fail the floor test at once.
      above += Number(v > bar);
      if (n === k && v <= floor) continue;
      let j = n < k ? n++ : k - 1;
      while (j > 0 && vals[base + j - 1] < v) {
        vals[base + j] = vals[base + j - 1];
        ids[base + j] = ids[base + j - 1];
        j--;
      }
      vals[base + j] = v;
      ids[base + j] = i;
      if (n === k) floor = vals[base + k - 1];
    }
    ranks[t] = above + 1;
  }
  return { ranks, top: { k, ids, logits: vals } };
}
