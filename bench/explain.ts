// npm run bench [-- --json]: the cost of an explanation against onnxruntime alone, in the same process.
// A 256-token text on a GPT-2-small-shaped model (random weights, the real GPT-2 tokenizer).
// explainMs: ModelSession.analyze (tokenize, forward, loss/rank/top-k for every position)
// rawMs:     onnxruntime-node session.run on the same ids, fetching the logits only
// ratio = explainMs / rawMs; attentionRatio = the same with attention on both sides (the first layer's, which
// an analysis fetches with its pass; other layers come with a pass of their own when asked for);
// lookupP95Ms: a question about another position of a cached analysis.
// bigFileRatio: Explain (ModelSession.analyze, whole context window) on a 2 MB one-line text over the same
// on a text of exactly one context window of tokens: only what the window holds should be tokenized.
// llama*: the llama.cpp engine against llama.cpp's own evaluation of the batch (bench/llama.ts).
// attentionMemMb: the memory (JS heap and buffers) held for attention after Explain on 1,024 tokens, the panel
// having asked for its first head: what letting that attention go frees.
// incrementalRatio, longDocRatio: live analysis (bench/live.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODEL_PRESETS } from '../src/core/models/presets';
import { randomWeights } from '../src/core/models/random';
import { writeModelFolder } from '../src/core/models/folder';
import { gpt2TokenizerFiles } from '../src/core/tokenizers/gpt2';
import { ModelSession, inferenceSessionOptions } from '../src/core/runtime/session';
import { decoderFeeds } from '../src/core/runtime/forward';
import { attentionOutputNames } from '../src/core/runtime/surgery';
import { decodeModel, encodeModel } from '../src/core/onnx/builder';
import { benchLlama } from './llama';
import { attentionMessages } from '../src/protocol/fromAnalysis';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
import { incrementalRatio, longDocRatio } from './live';

const json = process.argv.includes('--json');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
// A whole context window of GPT-2 small takes a second or more: fewer rounds.
const BIG_ROUNDS = Number(process.env.BENCH_BIG_ROUNDS ?? 5);
// A whole 10,000-token file is about twenty windows.
const LONG_ROUNDS = Number(process.env.BENCH_LONG_ROUNDS ?? 2);
const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'bench');
// Named by the graph's version: a model written before the scoring head ranked is written again.
const folder = path.join(cacheDir, 'gpt2-small-random-ranked-v2');

const log = (s: string) => { if (!json) process.stdout.write(`${s}\n`); else process.stderr.write(`${s}\n`); };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

const STORY = 'The old lighthouse keeper climbed the spiral stairs every evening, counting each step out loud ' +
  'so the silence would not swallow him. At the top he wiped the great lens with a soft cloth, lit the lamp, ' +
  'and watched the beam sweep across the restless water. Ships he would never meet passed safely in the dark. ';

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    log('writing a gpt2-small-shaped model with random weights (once)…');
    const config = MODEL_PRESETS['gpt2-small'];
    await writeModelFolder(folder, { config, weights: randomWeights(config, 1), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  }
  const session = await ModelSession.load(folder, { cacheDir });
  // Exactly 256 tokens of ordinary English.
  let text = STORY.repeat(8);
  const tokens = session.tokenize(text);
  text = text.slice(0, tokens[255].end);
  const ids = session.encode(text);
  if (ids.length !== 256) throw new Error(`expected 256 tokens, got ${ids.length}`);

  // The same model without the scoring head, and the same session options: only the work done differs.
  const raw = await ort.InferenceSession.create(plainModelFile(path.join(session.folder, 'onnx', 'model.onnx')), inferenceSessionOptions());
  const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  const feeds = decoderFeeds(raw.inputNames, ids, { kvHeads: config.n_head, headDim: config.n_embd / config.n_head });
  const attention = attentionOutputNames(raw.outputNames);

  // Garbage is collected before each timed call: the plain run's [T, V] logits (51 MB a call) would otherwise
  // be collected during the next call, whichever side it is on.
  const time = async (f: () => Promise<unknown>) => { gc(); const t0 = performance.now(); await f(); return performance.now() - t0; };
  const rawRun = () => raw.run(feeds, ['logits']);
  const rawAttention = () => raw.run(feeds, ['logits', attention[0]]);
  // As `token-lens explain` runs it: the candidates it prints are among the 100 the graph keeps per position.
  const explain = () => session.analyze(text, { fresh: true, logits: false });
  const explainAttention = () => session.analyze(text, { fresh: true, attention: true, logits: false });

  await rawRun(); await explain(); await rawAttention(); await explainAttention();
  const samples = { raw: [] as number[], explain: [] as number[], rawAtt: [] as number[], explainAtt: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved so that both sides see the same machine load.
    samples.raw.push(await time(rawRun));
    samples.explain.push(await time(explain));
    samples.rawAtt.push(await time(rawAttention));
    samples.explainAtt.push(await time(explainAttention));
  }
  const rawMs = median(samples.raw);
  const explainMs = median(samples.explain);
  const attentionRatio = median(samples.explainAtt) / median(samples.rawAtt);

  const analysis = await session.analyze(text, { attention: true });
  const lookups: number[] = [];
  for (let i = 0; i < 200; i++) {
    const position = (i * 37) % analysis.tokens.length;
    const t0 = performance.now();
    const cached = await session.analyze(text, { attention: true });
    cached.topK(position, 10);
    await cached.distribution(position, { temperature: 0.8, topK: 40, topP: 0.95 }, 10);
    lookups.push(performance.now() - t0);
  }
  const big = await bigFileRatio(session);
  const attentionMem = await attentionMemory(session);
  // A session of their own: the attention analyses above pin memory until they are collected, and the
  // memory budget would then keep no KV cache.
  await session.dispose();
  const live = await ModelSession.load(folder, { cacheDir });
  const kv = { kvHeads: config.n_head, headDim: config.n_embd / config.n_head };
  const incremental = await incrementalRatio(live, STORY, BIG_ROUNDS);
  const longDoc = await longDocRatio(live, raw, (w) => decoderFeeds(raw.inputNames, w, kv), STORY, LONG_ROUNDS);
  await live.dispose();
  const llama = await benchLlama(root, cacheDir, STORY, ROUNDS);
  const result = {
    explainMs: round(explainMs),
    rawMs: round(rawMs),
    ratio: round(explainMs / rawMs, 3),
    attentionRatio: round(attentionRatio, 3),
    lookupP95Ms: round(percentile(lookups, 0.95), 3),
    bigFileRatio: round(big.ratio, 3),
    ...llama,
    attentionMemMb: round(attentionMem.mb),
    incrementalRatio: round(incremental.ratio, 3),
    longDocRatio: round(longDoc.ratio, 3),
  };
  log(`explain ${result.explainMs} ms, onnxruntime alone ${result.rawMs} ms: ratio ${result.ratio} (goal <= 1.10)`);
  log(`with attention: ${round(median(samples.explainAtt))} ms vs ${round(median(samples.rawAtt))} ms: ratio ${result.attentionRatio} (goal <= 1.25)`);
  log(`cached lookup at another position: p95 ${result.lookupP95Ms} ms (goal <= 5)`);
  log(`explain on a 2 MB one-line text ${round(big.bigMs)} ms vs a ${session.info.contextLength}-token text ${round(big.contextMs)} ms: ratio ${result.bigFileRatio} (goal <= 1.5)`);
  log(`llama.cpp engine, 512 tokens: ${llama.llamaScoreMs} ms vs llama.cpp's single decode ${llama.llamaBareDecodeMs} ms: ratio ${llama.llamaBareRatio} (goal <= 1.5); vs node-llama-cpp's per-position reading ${llama.llamaDecodeMs} ms: ${llama.llamaRatio}`);
  log(`attention held after Explain on ${attentionMem.tokens} tokens: ${result.attentionMemMb} MB (goal <= 64; every layer and head would be ${round(attentionMem.allMb)} MB)`);
  log(`after a one-character edit at the end of 1,000 tokens: ${round(incremental.incrementalMs)} ms vs a full analysis ${round(incremental.fullMs)} ms: ratio ${result.incrementalRatio} (goal <= 0.15)`);
  log(`whole file of 10,000 tokens (${longDoc.windows} windows): ${round(longDoc.wholeMs)} ms vs onnxruntime alone ${round(longDoc.rawMs)} ms: ratio ${result.longDocRatio} (goal <= 1.15)`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Explain on a 2 MB one-line text against a text of one context window, interleaved, medians. */
async function bigFileRatio(session: ModelSession): Promise<{ ratio: number; bigMs: number; contextMs: number }> {
  const big = STORY.repeat(Math.ceil(2e6 / STORY.length)).slice(0, 2e6);
  // The last contextLength tokens of the big text, as a text of its own.
  const window = (await session.analyze(big)).window;
  const contextText = big.slice(window.start);
  if (session.encode(contextText).length !== session.info.contextLength) throw new Error('the context-sized text is not one window long');
  const time = async (text: string) => { const t0 = performance.now(); await session.analyze(text, { fresh: true }); return performance.now() - t0; };
  const bigMs: number[] = [];
  const contextMs: number[] = [];
  for (let i = 0; i < BIG_ROUNDS; i++) {
    contextMs.push(await time(contextText));
    bigMs.push(await time(big));
  }
  return { ratio: median(bigMs) / median(contextMs), bigMs: median(bigMs), contextMs: median(contextMs) };
}

/**
 * Explain on a full context window with attention, and the panel's first request (head 0 of layer 0, with its
 * layer's grid): the heap and buffers that letting the analysis's attention go then frees.
 */
async function attentionMemory(session: ModelSession): Promise<{ mb: number; allMb: number; tokens: number }> {
  const text = STORY.repeat(Math.ceil(session.info.contextLength * 8 / STORY.length));
  // Buffers that came from the worker thread are freed a turn of the event loop after they are collected.
  const retained = async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const a = await session.analyze(text, { attention: true, fresh: true });
  const T = a.tokens.length;
  if (T !== session.info.contextLength) throw new Error(`expected a full window of ${session.info.contextLength} tokens, got ${T}`);
  if (!await attentionMessages(a, 0, 0)) throw new Error('no attention');
  const held = await retained();
  a.releaseAttention();
  const freed = held - await retained();
  const { layers, heads } = a.attention!;
  return { mb: freed / 2 ** 20, allMb: layers * heads * T * T * 4 / 2 ** 20, tokens: T };
}

/** A copy of the model file without the scoring head (the part of the graph that is analysis work). */
function plainModelFile(file: string): string {
  const plain = path.join(cacheDir, 'gpt2-small-plain.onnx');
  if (fs.existsSync(plain) && fs.statSync(plain).mtimeMs > fs.statSync(file).mtimeMs) return plain;
  const model = decodeModel(fs.readFileSync(file));
  const graph = model.graph!;
  const isHead = (name?: string | null) => !!name && name.startsWith('token_lens.');
  graph.node = graph.node!.filter((n) => !isHead(n.name));
  graph.initializer = graph.initializer!.filter((t) => !isHead(t.name));
  graph.output = graph.output!.filter((o) => !isHead(o.name));
  fs.writeFileSync(plain, encodeModel(model));
  return plain;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((e) => { process.stderr.write(`bench: ${e.stack ?? e}\n`); process.exitCode = 1; });
