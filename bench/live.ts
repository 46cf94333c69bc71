// Live analysis in `npm run bench`, on the same GPT-2-small-shaped model as the rest of it:
// incrementalRatio: re-analysing a 1,000-token document after a one-character edit at its end (the KV cache
//   of the unchanged prefix reused) over a full analysis of the edited text (goal <= 0.15).
// longDocRatio: whole-file analysis of a 10,000-token text (strided windows) over onnxruntime's own
//   session.run on the same windows, fetching the logits (goal <= 1.15).
import type * as ort from 'onnxruntime-node';
import type { ModelSession } from '../src/core/runtime/session';
import { stridedWindows } from '../src/core/runtime/wholeFile';

const time = async (f: () => Promise<unknown>) => { const t0 = performance.now(); await f(); return performance.now() - t0; };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The first `count` tokens' worth of `story` repeated. */
export function textOfTokens(session: ModelSession, story: string, count: number): string {
  const long = story.repeat(Math.ceil((count * 8) / story.length));
  const tokens = session.tokenize(long).filter((t) => !t.special);
  const text = long.slice(0, tokens[count - 1].end);
  if (session.encode(text).length !== count) throw new Error(`expected ${count} tokens`);
  return text;
}

export async function incrementalRatio(session: ModelSession, story: string, rounds: number): Promise<{ ratio: number; incrementalMs: number; fullMs: number }> {
  const doc = textOfTokens(session, story, 1000);
  await session.analyze(doc, { incremental: true });
  const incremental: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // A new letter each round: each edited text is new to the analysis cache.
    const edited = doc + String.fromCharCode(97 + (i % 26));
    incremental.push(await time(() => session.analyze(edited, { incremental: true })));
    if (session.lastReusedTokens < 990) throw new Error(`the edit reused only ${session.lastReusedTokens} tokens`);
    full.push(await time(() => session.analyze(edited, { fresh: true })));
  }
  return { ratio: median(incremental) / median(full), incrementalMs: median(incremental), fullMs: median(full) };
}

export async function longDocRatio(session: ModelSession, raw: ort.InferenceSession, feeds: (ids: number[]) => Record<string, ort.Tensor>,
  story: string, rounds: number): Promise<{ ratio: number; wholeMs: number; rawMs: number; windows: number }> {
  const text = textOfTokens(session, story, 10000);
  const ids = session.encode(text);
  const windows = stridedWindows(ids.length, session.info.contextLength).map((w) => ids.slice(w.first, w.end));
  const rawRun = async () => { for (const w of windows) await raw.run(feeds(w), ['logits']); };
  const whole: number[] = [];
  const rawMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternating which goes first, so both sides see the same machine load.
    if (i % 2 === 0) rawMs.push(await time(rawRun));
    whole.push(await time(() => session.analyzeWholeFile(text)));
    if (i % 2 === 1) rawMs.push(await time(rawRun));
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return { ratio: sum(whole) / sum(rawMs), wholeMs: sum(whole) / rounds, rawMs: sum(rawMs) / rounds, windows: windows.length };
}
