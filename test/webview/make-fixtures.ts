// Records the Explain panel's host->webview messages on the real stories260K model, for the browser test.
// The messages come from protocol/fromAnalysis.ts, the builder ExplainPanel posts from, and are copied as
// data the way postMessage copies them; the extension-host suite checks the panel's posts have this shape.
// Usage: node --import tsx test/webview/make-fixtures.ts MODEL_DIR [OUT_JSON]
// MODEL_DIR: e.g. the output of `node dist/cli.js import-llama2c ... --out DIR` (stories260K).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelSession } from '../../src/core/runtime/session';
import { type AnalysisLike, analysisMessage, attentionMessages, distributionMessage } from '../../src/protocol/fromAnalysis';
import type { SamplingControls } from '../../src/core/types';

const TEXT = 'Once upon a time, there was a little robot named Bob. He liked to eat rocks in the rain. One day, he';
const K = 10;
const DEFAULT: SamplingControls = { temperature: 1, topK: 0, topP: 1 };
/** The controls the browser test sets, answered at the last position. */
export const TEST_CONTROLS: SamplingControls[] = [
  { temperature: 0.5, topK: 0, topP: 1 },
  { temperature: 0.5, topK: 3, topP: 1 },
  { temperature: 0.5, topK: 3, topP: 0.9 },
];
export const controlsKey = (position: number, c: SamplingControls) => `${position}|${c.temperature}|${c.topK}|${c.topP}`;

const FUSED_NOTE = 'This export fuses attention into one GroupQueryAttention op, so there are no attention probabilities to show.';
const fields = (a: AnalysisLike) => ({ text: a.text, tokens: a.tokens, meanLoss: a.meanLoss, perplexity: a.perplexity,
  window: a.window, vocabSize: a.vocabSize });

// Five decimals keep the fixture small and are far below what a heatmap pixel can show. JSON, as postMessage:
// anything the webview would not receive is not recorded either.
// A typed array (an attention head) arrives as the same typed array: recorded as its numbers.
export const round = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array)
  : typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e5) / 1e5 : v)));

export const FIXTURE = path.join(__dirname, 'fixtures', 'stories260K.json');

/** Every message the browser test replays, as the host builds them for TEXT on `session`'s model. */
export async function recordFixture(session: ModelSession): Promise<unknown> {
  // The folder's name for its path, so the fixture does not depend on where the model was imported.
  const info = { ...session.info, id: path.basename(session.info.id) };
  const a = await session.analyze(TEXT, { attention: true });
  const last = a.tokens.length - 1;
  const distributions: Record<string, unknown> = {};
  for (let p = 0; p <= last; p++) distributions[controlsKey(p, DEFAULT)] = await distributionMessage(a, p, DEFAULT, K);
  for (const c of TEST_CONTROLS) distributions[controlsKey(last, c)] = await distributionMessage(a, last, c, K);
  const attention: Record<string, unknown> = {};
  const grids: Record<string, unknown> = {};
  for (let l = 0; l < a.attention!.layers; l++) {
    for (let h = 0; h < a.attention!.heads; h++) {
      const [m, g] = (await attentionMessages(a, l, h))!;
      attention[`${l}|${h}`] = m;
      grids[l] = g;
    }
  }
  // Step-through: the analysis after appending the most likely next token.
  const top = a.topK(last, 1)[0];
  const appended = await session.analyze(TEXT + top.text, { attention: true });
  return round({
    source: { model: 'stories260K (llama2.c tinyllamas, imported with token-lens import-llama2c)', text: TEXT, k: K },
    analysis: await analysisMessage(info, a, { controls: DEFAULT, k: K }),
    distributions,
    attention,
    grids,
    appended: { tokenId: top.id, text: top.text, analysis: await analysisMessage(info, appended, { controls: DEFAULT, k: K }) },
    // What the host sends for an export that fuses attention into one op (the same text otherwise).
    noAttention: await analysisMessage({ ...info, attention: 'unavailable', attentionNote: FUSED_NOTE },
      { ...fields(a), attention: null, attentionNote: FUSED_NOTE, distribution: (p, c, k) => a.distribution(p, c, k) },
      { controls: DEFAULT, k: K }),
  });
}

async function main(): Promise<void> {
  const [folder, out = FIXTURE] = process.argv.slice(2);
  if (!folder) throw new Error('usage: make-fixtures.ts MODEL_DIR [OUT_JSON]');
  const session = await ModelSession.load(path.resolve(folder), { cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tl-fx-')), offline: true });
  try {
    const fixture = await recordFixture(session) as { analysis: { tokens: unknown[]; meanLoss: number } };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(fixture));
    console.log(`wrote ${out}: ${fixture.analysis.tokens.length} tokens, mean loss ${fixture.analysis.meanLoss.toFixed(3)}, ${fs.statSync(out).size} bytes`);
  } finally {
    await session.dispose();
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
