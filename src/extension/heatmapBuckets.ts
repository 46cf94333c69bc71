// Which colour a token gets. Rank buckets follow GLTR (Gehrmann et al., 2019): top-10, top-100,
// top-1000, rest. Surprisal buckets are in nats, the unit of the loss the runtime reports.
import type { TokenScore } from '../core/types';

export type HeatmapStyle = 'rank' | 'surprisal';

export interface Bucket {
  /** Suffix of the contributed colour `tokenLens.heatmap.<id>Background`. */
  id: string;
  label: string;
  /** Upper bound (exclusive) of rank or of loss. */
  below: number;
}

export const BUCKETS: Record<HeatmapStyle, Bucket[]> = {
  rank: [
    { id: 'rankTop10', label: 'top-10', below: 11 },
    { id: 'rankTop100', label: 'top-100', below: 101 },
    { id: 'rankTop1000', label: 'top-1000', below: 1001 },
    { id: 'rankRest', label: 'rest', below: Infinity },
  ],
  surprisal: [
    { id: 'surprisal0', label: '< 1 nat', below: 1 },
    { id: 'surprisal1', label: '1–2.5', below: 2.5 },
    { id: 'surprisal2', label: '2.5–4', below: 4 },
    { id: 'surprisal3', label: '4–6', below: 6 },
    { id: 'surprisal4', label: '≥ 6 nats', below: Infinity },
  ],
};

/** Index into BUCKETS[style], or -1 for a token nothing predicts (the first one, specials). */
export function bucketOf(style: HeatmapStyle, t: TokenScore): number {
  const v = style === 'rank' ? t.rank : t.loss;
  if (v === null || Number.isNaN(v)) return -1;
  const i = BUCKETS[style].findIndex((b) => v < b.below);
  return i < 0 ? BUCKETS[style].length - 1 : i;
}
