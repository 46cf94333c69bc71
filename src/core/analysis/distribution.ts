// The maths of a next-token distribution: softmax over logits, loss, rank, top-k,
// and sampling controls renormalised exactly over the whole vocabulary.
import type { SamplingControls } from '../types';

/** Row statistics for one position: log-sum-exp of the logits, and the target's loss and rank. */
export interface RowScore {
  logSumExp: number;
  loss: number;
  rank: number;
}

/** log(sum(exp(row))) computed stably, in float64. */
export function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

/**
 * Loss and rank of `target` in one pass over the row (after finding the max):
 * loss = logSumExp - logit[target] in nats; rank = 1 + how many logits are strictly larger.
 */
export function scoreRow(row: Float32Array, target: number): RowScore {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const t = row[target];
  let sum = 0;
  let above = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    sum += Math.exp(v - max);
    above += Number(v > t);
  }
  const lse = max + Math.log(sum);
  return { logSumExp: lse, loss: lse - t, rank: above + 1 };
}

/** 1 + how many logits are strictly larger than the target's. */
export function rankOf(row: Float32Array, target: number): number {
  const t = row[target];
  let above = 0;
  // Number(bool) keeps the loop branch-free: an if here mispredicts on every other logit (4x slower).
  for (let i = 0; i < row.length; i++) above += Number(row[i] > t);
  return above + 1;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topIndices(row: Float32Array, k: number): number[] {
  k = Math.max(0, Math.min(k, row.length));
  if (k === 0) return [];
  // A small sorted buffer beats sorting the vocabulary when k is small.
  const idx: number[] = [];
  let floor = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (idx.length === k && v <= floor) continue;
    if (idx.length < k) idx.push(i);
    let j = idx.length - 1;
    while (j > 0 && row[idx[j - 1]] < v) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
    if (idx.length === k) floor = row[idx[k - 1]];
  }
  return idx;
}

/** All indices ordered by value, largest first. */
export function sortedIndices(row: Float32Array): Uint32Array {
  const idx = new Uint32Array(row.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => row[b] - row[a] || a - b);
}

export interface ControlledToken {
  id: number;
  logit: number;
  /** Probability after temperature, top-k and top-p, renormalised over the kept tokens. */
  prob: number;
}

/**
 * Applies temperature, then top-k, then top-p (nucleus) to a row of logits, the way samplers do,
 * and returns the `limit` most likely surviving tokens with exactly renormalised probabilities.
 * temperature 0 means greedy: all probability on the top token. topK 0 disables top-k; topP 1 disables top-p.
 */
export function controlledDistribution(row: Float32Array, controls: SamplingControls, limit: number): {
  tokens: ControlledToken[];
  kept: number;
} {
  const { temperature, topK, topP } = normaliseControls(controls, row.length);
  if (temperature === 0) {
    const [best] = topIndices(row, 1);
    return { tokens: [{ id: best, logit: row[best], prob: 1 }], kept: 1 };
  }
  // Candidates in order of logit; temperature does not change the order.
  const orderLimit = topK > 0 ? topK : row.length;
  let order: ArrayLike<number> = orderLimit <= 4096 ? topIndices(row, orderLimit) : sortedIndices(row);
  const n = Math.min(orderLimit, order.length);
  const max = row[order[0]];
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    weights[i] = Math.exp((row[order[i]] - max) / temperature);
    total += weights[i];
  }
  let kept = n;
  if (topP < 1) {
    // Keep the smallest prefix whose probability reaches topP (at least one token).
    let cumulative = 0;
    for (let i = 0; i < n; i++) {
      cumulative += weights[i] / total;
      if (cumulative >= topP) {
        kept = i + 1;
        break;
      }
    }
  }
  let keptTotal = 0;
  for (let i = 0; i < kept; i++) keptTotal += weights[i];
  const tokens: ControlledToken[] = [];
  for (let i = 0; i < Math.min(kept, limit); i++) {
    tokens.push({ id: order[i], logit: row[order[i]], prob: weights[i] / keptTotal });
  }
  return { tokens, kept };
}

export function normaliseControls(c: SamplingControls, vocab: number): SamplingControls {
  const temperature = Number.isFinite(c.temperature) ? Math.max(0, c.temperature) : 1;
  const topK = Number.isFinite(c.topK) ? Math.max(0, Math.min(vocab, Math.floor(c.topK))) : 0;
  const topP = Number.isFinite(c.topP) ? Math.min(1, Math.max(0, c.topP)) : 1;
  return { temperature, topK, topP: topP === 0 ? Number.MIN_VALUE : topP };
}
