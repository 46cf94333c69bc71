// token-lens explain --whole-file: every token of a text longer than the context window, scored in strided
// windows (src/core/runtime/wholeFile.ts), as text or JSON.
import type { ModelSession } from '../core/runtime/session';
import type { WholeFileAnalysis } from '../core/runtime/wholeFile';
import type { Candidate } from '../core/types';
import { candidatesAfter, scoresJson, tokenTable } from './tokenJson';
import { percent, perplexity } from '../core/numberFormat';

export async function explainWholeFile(session: ModelSession, text: string, topK: number, json: boolean,
  extra: Record<string, unknown>): Promise<void> {
  const a = await session.analyzeWholeFile(text, {
    onProgress: (done, total) => { if (process.stderr.isTTY) process.stderr.write(`\rwindow ${done}/${total}${done === total ? '\n' : ''}`); },
  });
  const { window, row } = a.rowAt(a.tokens.length - 1);
  const next = await candidatesAfter(window.analysis, row, topK);
  if (json) process.stdout.write(`${JSON.stringify({ ...wholeFileJson(session, a, next), ...extra })}\n`);
  else printTable(session, a, next);
}

/** `explain --json` with `windows` in place of `window`: token indices (into `tokens`) and UTF-16 offsets. */
export function wholeFileJson(session: ModelSession, a: WholeFileAnalysis, next: Candidate[]) {
  const lead = a.lead;
  return {
    ...scoresJson(session.ref, a, next),
    windows: a.windows.map((w) => ({
      firstToken: lead + w.first, lastToken: lead + w.end - 1, scoredFrom: lead + w.scoredFrom, scoredTo: lead + w.end - 1,
      start: w.analysis.window.start, end: w.analysis.window.end,
    })),
  };
}

function printTable(session: ModelSession, a: WholeFileAnalysis, next: Candidate[]): void {
  const out: string[] = [`model ${session.ref}`];
  out.push(`${a.tokens.length} tokens in ${a.windows.length} window${a.windows.length === 1 ? '' : 's'} of up to ${session.info.contextLength}`);
  out.push(...tokenTable(a.tokens));
  out.push(`mean loss ${a.meanLoss.toFixed(4)} nats, perplexity ${perplexity(a.perplexity)}`);
  out.push('next token:');
  for (const c of next) out.push(`  ${percent(c.prob).padStart(7)}  logit ${c.logit.toFixed(3).padStart(8)}  ${JSON.stringify(c.text)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
