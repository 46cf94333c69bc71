// Which colour a token gets. Rank buckets follow GLTR (Gehrmann et al., 2019): top-10, top-100, top-1000,
// rest, made for GPT-2's 50,257 tokens and scaled here to the model's vocabulary. Surprisal buckets are in
// nats, the unit of the loss the runtime reports.
import type { TokenScore } from '../core/types';

export type HeatmapStyle = 'rank' | 'surprisal' | 'difference';

export interface Bucket {
  /** Suffix of the contributed colour `tokenLens.heatmap.<id>Background`. */
  id: string;
  label: string;
  /** Upper bound (exclusive) of rank or of loss. */
  below: number;
}

/** GPT-2's vocabulary: the one GLTR's 10, 100 and 1000 were chosen for. */
export const GLTR_VOCAB = 50_257;

/**
 * The rank boundaries for a vocabulary of `vocabSize` tokens. GLTR's 10, 100, 1000 are GPT-2's vocabulary to
 * the powers 1/4.7, 2/4.7 and 3/4.7 (log10 50,257 = 4.70): each bucket covers the same share of log-rank.
 * The same powers of another vocabulary keep those shares, so every colour stays reachable: 512 tokens give
 * 4, 14, 54; Llama 2's 32,000 give 9, 83, 750; GPT-2 gives exactly 10, 100, 1000. (Scaling linearly would
 * give a 512-token model 0.1, 1 and 10: two colours for rank 1 and none for the rest.)
 */
export function rankBoundaries(vocabSize: number): number[] {
  const share = Math.log10(Math.max(2, vocabSize)) / Math.log10(GLTR_VOCAB);
  const out: number[] = [];
  for (let i = 1; i <= 3; i++) out.push(Math.max((out.at(-1) ?? 0) + 1, Math.round(10 ** (i * share))));
  return out;
}

const SURPRISAL: Bucket[] = [
  { id: 'surprisal0', label: '< 1 nat', below: 1 },
  { id: 'surprisal1', label: '1–2.5', below: 2.5 },
  { id: 'surprisal2', label: '2.5–4', below: 4 },
  { id: 'surprisal3', label: '4–6', below: 6 },
  { id: 'surprisal4', label: '≥ 6 nats', below: Infinity },
];

const RANK_IDS = ['rankTop10', 'rankTop100', 'rankTop1000', 'rankRest'];

/**
 * The difference style: loss under model B ("Compare with…") minus loss under the current model A, in nats
 * per token (per piece, when the tokenizers differ). Blue where B predicts the token better, orange where it
 * predicts it worse; a change under 0.2 nats is left uncoloured.
 */
export const DIFFERENCE_DEADBAND = 0.2;
const DIFFERENCE: Bucket[] = [
  { id: 'diffMuchBetter', label: 'B better by ≥ 1 nat', below: -1 },
  { id: 'diffBetter', label: 'B better', below: -DIFFERENCE_DEADBAND },
  { id: 'diffWorse', label: 'B worse', below: 1 },
  { id: 'diffMuchWorse', label: 'B worse by ≥ 1 nat', below: Infinity },
];

/** Index into the difference buckets for B's loss minus A's, or -1 when the change is too small to colour. */
export function differenceBucket(delta: number | null): number {
  if (delta === null || Number.isNaN(delta) || Math.abs(delta) < DIFFERENCE_DEADBAND) return -1;
  return DIFFERENCE.findIndex((b) => delta < b.below);
}

/** The buckets of a style for a vocabulary of `vocabSize` tokens (rank buckets scale; surprisal ones do not). */
export function bucketsFor(style: HeatmapStyle, vocabSize: number): Bucket[] {
  if (style === 'surprisal') return SURPRISAL;
  if (style === 'difference') return DIFFERENCE;
  const bounds = rankBoundaries(vocabSize);
  return RANK_IDS.map((id, i) => i < bounds.length
    ? { id, label: `top-${bounds[i]}`, below: bounds[i] + 1 }
    : { id, label: 'rest', below: Infinity });
}

/** The buckets at GPT-2's vocabulary: GLTR's own. Their ids name the decoration types of each style. */
export const BUCKETS: Record<HeatmapStyle, Bucket[]> = { rank: bucketsFor('rank', GLTR_VOCAB), surprisal: SURPRISAL, difference: DIFFERENCE };

/** Index into bucketsFor(style, vocabSize), or -1 for a token nothing predicts (the first one, specials). */
export function bucketOf(style: HeatmapStyle, t: TokenScore, vocabSize: number): number {
  if (style === 'difference') return -1;   // needs two models: differenceBucket
  const v = style === 'rank' ? t.rank : t.loss;
  if (v === null || Number.isNaN(v)) return -1;
  const buckets = bucketsFor(style, vocabSize);
  const i = buckets.findIndex((b) => v < b.below);
  return i < 0 ? buckets.length - 1 : i;
}
