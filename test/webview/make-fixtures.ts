// Records the Explain panel's host->webview messages on the real stories260K model, for the browser test.
// The messages come from protocol/fromAnalysis.ts, the builder ExplainPanel posts from, and are copied as
// data the way postMessage copies them; the extension-host suite checks the panel's posts have this shape.
// Usage: node --import tsx test/webview/make-fixtures.ts MODEL_DIR [OUT_JSON]
// MODEL_DIR: e.g. the output of `node dist/cli.js import-llama2c ... --out DIR` (stories260K).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelSession } from '../../src/core/runtime/session';
import {
  type AnalysisLike, analysisMessage, attentionMessages, attributionMessage, distributionMessage, logitLensMessage,
} from '../../src/protocol/fromAnalysis';
import { attribute, logitLens, NO_HIDDEN_STATES_NOTE } from '../../src/core/lenses';
import type { WebviewMessages } from '../../src/protocol/messages';
import type { SamplingControls } from '../../src/core/types';

const TEXT = 'Once upon a time, there was a little robot named Bob. He liked to eat rocks in the rain. One day, he';
const K = 10;
const DEFAULT: SamplingControls = { temperature: 1, topK: 0, topP: 1 };
/** The controls the browser test sets, answered at the last position. */
export const TEST_CONTROLS: SamplingControls[] = [
  { temperature: 0.5, topK: 0, topP: 1 },
  { temperature: 0.5, topK: 3, topP: 1 },
  { temperature: 0.5, topK: 3, topP: 0.9 },
  // By keyboard: two steps left on the temperature slider, then one step up in the top-k field.
  { temperature: 0.9, topK: 0, topP: 1 },
  { temperature: 0.9, topK: 1, topP: 1 },
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

type AttributionRequest = WebviewMessages['requestAttribution'];
/** Key of a recorded attribution: what the webview asks for. */
export const attributionKey = (r: AttributionRequest) => `${r.method}|${r.target}|${r.contrast}|${r.steps}`;

/** The attributions the browser test asks for: every method on the top-1, and a picked target and contrast. */
async function recordAttributions(session: ModelSession, a: Awaited<ReturnType<ModelSession['analyze']>>): Promise<Record<string, unknown>> {
  const second = a.topK(a.tokens.length - 1, 2)[1].id;
  const requests: AttributionRequest[] = [
    { method: 'occlusion', target: null, contrast: null, steps: 64 },
    { method: 'gradient', target: null, contrast: null, steps: 64 },
    { method: 'integrated-gradients', target: null, contrast: null, steps: 64 },
    { method: 'occlusion', target: second, contrast: null, steps: 64 },
    { method: 'occlusion', target: null, contrast: second, steps: 64 },
  ];
  const out: Record<string, unknown> = {};
  for (const r of requests) {
    // As the host runs it (src/extension/panelLenses.ts): ids as TOKEN strings, steps only for integrated gradients.
    const result = await attribute(session, a.text, { method: r.method, target: r.target === null ? undefined : String(r.target),
      contrast: r.contrast === null ? undefined : String(r.contrast), steps: r.method === 'integrated-gradients' ? r.steps : undefined });
    out[attributionKey(r)] = attributionMessage(a, result);
  }
  return out;
}

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
    logitLens: logitLensMessage(a, await logitLens(session, TEXT, K)),
    // What the host sends for an export without hidden-state outputs.
    noLogitLens: logitLensMessage(a, { note: `No logit lens for ${info.id}: ${NO_HIDDEN_STATES_NOTE}.` }),
    attributions: await recordAttributions(session, a),
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
