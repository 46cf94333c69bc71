// One analysed token as `explain --json` prints it (one window or the whole file).
import type { ScoredToken } from '../core/types';

export const tokenJson = (t: ScoredToken) => ({ id: t.id, text: t.text, start: t.start, end: t.end, prob: t.prob, rank: t.rank, loss: t.loss });
