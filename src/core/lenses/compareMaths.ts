// The maths of comparing two models on one text, apart from running them: KL divergence between two
// next-token distributions, and lining up two tokenizations of the same text on character offsets.

/** log-softmax of a row of logits, in float64. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from({ length: row.length }, (_, i) => row[i] - lse);
}

/**
 * KL(P‖Q) = Σ p · (log p − log q) in nats, P and Q given as logits over the same vocabulary: how many extra
 * nats per token a code built for Q spends on text drawn from P. Zero only when the two agree everywhere.
 */
export function klDivergence(logitsP: ArrayLike<number>, logitsQ: ArrayLike<number>): number {
  if (logitsP.length !== logitsQ.length) throw new RangeError(`vocabularies differ: ${logitsP.length} and ${logitsQ.length} logits`);
  const lp = logSoftmax(logitsP);
  const lq = logSoftmax(logitsQ);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i]);
    if (p > 0) kl += p * (lp[i] - lq[i]);
  }
  // Rounding can leave a tiny negative sum where the two are equal; KL itself never is.
  return Math.max(0, kl);
}

/** A token as the aligner needs it: its span in the text and its loss (null when nothing predicted it). */
export interface Spanned {
  start: number;
  end: number;
  loss: number | null;
}

/** A stretch of text where both tokenizations have a boundary at each end; losses summed inside it. */
export interface Segment {
  start: number;
  end: number;
  /** Summed loss (nats) of A's / B's tokens in the segment; null when one of them has no loss. */
  lossA: number | null;
  lossB: number | null;
}

/**
 * Lines two tokenizations of one text up on character offsets: the segments run between the offsets where
 * both have a token boundary, so every token of either lies inside one segment and the losses can be
 * summed per segment. Zero-width tokens (BOS) carry no text and are left out.
 */
export function alignOnOffsets(a: readonly Spanned[], b: readonly Spanned[]): Segment[] {
  const spans = (ts: readonly Spanned[]) => ts.filter((t) => t.end > t.start);
  const sa = spans(a), sb = spans(b);
  const bounds = (ts: Spanned[]) => new Set(ts.flatMap((t) => [t.start, t.end]));
  const inB = bounds(sb);
  const common = [...bounds(sa)].filter((x) => inB.has(x)).sort((x, y) => x - y);
  const segments: Segment[] = [];
  for (let i = 0; i + 1 < common.length; i++) {
    const start = common[i], end = common[i + 1];
    const sum = (ts: Spanned[]): number | null => {
      const inside = ts.filter((t) => t.start >= start && t.end <= end);
      if (!inside.length || inside.some((t) => t.loss === null)) return null;
      return inside.reduce((s, t) => s + t.loss!, 0);
    };
    segments.push({ start, end, lossA: sum(sa), lossB: sum(sb) });
  }
  return segments;
}

/** The indices of the `n` entries with the largest |value|, largest first. */
export function largestMoves(values: readonly (number | null)[], n: number): number[] {
  return values.map((v, i) => [v === null ? -1 : Math.abs(v), i] as const)
    .filter(([m]) => m >= 0)
    .sort((x, y) => y[0] - x[0])
    .slice(0, n)
    .map(([, i]) => i);
}
