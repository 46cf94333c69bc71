// What `explain --json` prints of an analysis (one window or the whole file): each token, and the most
// likely tokens after the text.
import type { Analysis } from '../core/runtime/analysis';
import { TOP_KEPT } from '../core/runtime/topRows';
import type { Candidate, ScoredToken } from '../core/types';

export const tokenJson = (t: ScoredToken) => ({ id: t.id, text: t.text, start: t.start, end: t.end, prob: t.prob, rank: t.rank, loss: t.loss });

/** The text form of the tokens: a header, then position, token, prob, rank and loss per line. */
export function tokenTable(tokens: ScoredToken[]): string[] {
  return ['  pos  token                 prob      rank   loss', ...tokens.map((t, i) => {
    const p = t.prob === null ? '     -' : t.prob.toFixed(4);
    const r = t.rank === null ? '     -' : String(t.rank).padStart(6);
    const l = t.loss === null ? '     -' : t.loss.toFixed(3);
    return `${String(i).padStart(5)}  ${JSON.stringify(t.text).padEnd(20).slice(0, 20)}  ${p}  ${r}  ${l}`;
  })];
}

/** What every `explain --json` starts with: the model, each token, the mean loss and the next tokens. */
export function scoresJson(model: string, a: { tokens: ScoredToken[]; meanLoss: number; perplexity: number }, next: Candidate[]) {
  return { model, tokens: a.tokens.map(tokenJson), meanLoss: a.meanLoss, perplexity: a.perplexity, next };
}

/** The k most likely tokens after row `row` of `a`: from the kept top rows, or from the full row beyond them. */
export async function candidatesAfter(a: Analysis, row: number, k: number): Promise<Candidate[]> {
  if (k <= TOP_KEPT) return a.topK(row, k);
  const all = await a.distribution(row, { temperature: 1, topK: 0, topP: 1 }, k);
  return all.map(({ id, text, prob, logit }) => ({ id, text, prob, logit }));
}
