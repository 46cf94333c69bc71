// Whole-file analysis past the context window, checked against an independent computation: for every token,
// the window that should score it is worked out here from the strided-perplexity rule, that window is run
// straight on onnxruntime, and the token's loss is read off a log-softmax computed here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gpt2Config } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { gpt2TokenizerFiles } from '../../src/core/tokenizers/gpt2';
import { ModelSession } from '../../src/core/runtime/session';
import { stridedWindows } from '../../src/core/runtime/wholeFile';
import { loadStories260K } from './stories260K';
import { cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-wholefile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big red ball under a tree. "Can I play with it?" she asked her mom. Her mom said yes, ' +
  'and Lily ran to the ball with a happy smile. They played until the sun went down. ';

/** Runs `ids` through the model file on onnxruntime alone; returns row-major [T, V] logits. */
async function rawLogits(model: ort.InferenceSession, ids: number[], kvHeads: number, headDim: number): Promise<{ logits: Float32Array; V: number }> {
  const T = ids.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of model.inputNames) {
    if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]);
    else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]);
    else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]);
    else feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const out = await model.run(feeds, ['logits']);
  return { logits: out.logits.data as Float32Array, V: out.logits.dims[2] };
}

function lossAt(logits: Float32Array, V: number, row: number, target: number): number {
  const r = logits.subarray(row * V, (row + 1) * V);
  let max = -Infinity;
  for (const x of r) max = Math.max(max, x);
  let sum = 0;
  for (const x of r) sum += Math.exp(x - max);
  return max + Math.log(sum) - r[target];
}

/**
 * Every token's loss from an explicit run of its window. Context C tokens (BOS, when the model has one, takes one
 * place), stride S = floor(C' / 2) with C' the room for text tokens: text token j belongs to the first window
 * (starting at a multiple of S) that holds it, where it has the most context.
 */
async function independentLosses(session: ModelSession, text: string, kvHeads: number, headDim: number): Promise<(number | null)[]> {
  const all = session.tokenize(text);
  const bos = all[0].special ? [all[0].id] : [];
  const ids = all.slice(bos.length).map((t) => t.id);
  const room = session.info.contextLength - bos.length;
  const S = Math.floor(room / 2);
  const model = await ort.InferenceSession.create(path.join(session.folder, 'onnx', 'model.onnx'));
  const losses: (number | null)[] = bos.map(() => null);
  const runs = new Map<number, { logits: Float32Array; V: number }>();
  for (let j = 0; j < ids.length; j++) {
    const start = Math.max(0, Math.ceil((j - room + 1) / S)) * S;
    if (j === start && !bos.length) {
      losses.push(null);
      continue;
    }
    if (!runs.has(start)) runs.set(start, await rawLogits(model, [...bos, ...ids.slice(start, start + room)], kvHeads, headDim));
    const { logits, V } = runs.get(start)!;
    // Row (position of token j - 1) in the window; BOS is row 0.
    losses.push(lossAt(logits, V, bos.length + j - start - 1, ids[j]));
    assert.ok(j < room || j - start >= S, `token ${j} has ${j - start} tokens of context`);
  }
  await model.release();
  return losses;
}

async function checkWholeFile(session: ModelSession, text: string, kvHeads: number, headDim: number, minWindows: number) {
  const progress: [number, number][] = [];
  const a = await session.analyzeWholeFile(text, { onProgress: (done, total) => progress.push([done, total]) });
  const expected = await independentLosses(session, text, kvHeads, headDim);
  const all = session.tokenize(text);
  assert.ok(a.windows.length >= minWindows, `${a.windows.length} windows`);
  assert.deepEqual(progress, a.windows.map((_, i) => [i + 1, a.windows.length]));
  assert.deepEqual(a.tokens.map((t) => [t.id, t.start, t.end]), all.map((t) => [t.id, t.start, t.end]), 'every token, once, in order');
  a.tokens.forEach((t, i) => {
    if (expected[i] === null) return assert.equal(t.loss, null, `token ${i} has no score`);
    assert.ok(Math.abs(t.loss! - expected[i]!) <= 1e-4, `token ${i}: ${t.loss} vs ${expected[i]}`);
  });
  const scored = expected.filter((x): x is number => x !== null);
  assert.ok(Math.abs(a.meanLoss - scored.reduce((s, x) => s + x, 0) / scored.length) <= 1e-5);
  // The hover's lookups: the token at an offset, and the candidates of the window that scored the next one.
  const probe = all[Math.floor(all.length * 0.8)];
  const i = a.tokenIndexAt(probe.start);
  assert.equal(a.tokens[i].start, probe.start);
  const top = a.topK(i - 1, 100);
  const actual = a.tokens[i];
  const at = top.findIndex((c) => c.id === actual.id);
  assert.equal(at + 1 || null, actual.rank! <= 100 ? actual.rank : null, 'the candidates rank the actual token where its score does');
  if (at >= 0) assert.ok(Math.abs(top[at].prob - actual.prob!) <= 1e-4);
  return a;
}

test('stridedWindows: half-context stride, each token scored once, the last window ends at the text', () => {
  assert.deepEqual(stridedWindows(10, 4), [
    { first: 0, scoredFrom: 0, end: 4 }, { first: 2, scoredFrom: 4, end: 6 }, { first: 4, scoredFrom: 6, end: 8 },
    { first: 6, scoredFrom: 8, end: 10 },
  ]);
  assert.deepEqual(stridedWindows(3, 8), [{ first: 0, scoredFrom: 0, end: 3 }]);
  assert.throws(() => stridedWindows(10, 1), /room for 2 tokens/);
});

test('stories260K: a text of several windows is scored token by token as its windows score it', async () => {
  const { session, close } = await loadStories260K('tl-wholefile-stories-');
  try {
    const text = STORY.repeat(12);
    const a = await checkWholeFile(session, text, 4, 8, 4);
    // BOS heads every window.
    for (const w of a.windows) assert.ok(w.analysis.tokens[0].special);
    // Typing at the end: only the last windows run again (continuing its kept KV cache), and the result is
    // what a whole new analysis gives.
    const first = await session.analyzeWholeFile(text, { incremental: true });
    const before = session.forwardCount;
    const edited = `${text}The end.`;
    const again = await session.analyzeWholeFile(edited, { previous: first, incremental: true });
    // The window that held the end; a new one too when the text grew past where the next one starts.
    assert.ok(session.forwardCount - before <= 2 && again.windows.length >= 4, `${session.forwardCount - before} windows ran`);
    assert.ok(session.lastReusedTokens > 100, `reused ${session.lastReusedTokens} tokens`);
    const fresh = await session.analyzeWholeFile(edited);
    assert.equal(again.tokens.length, fresh.tokens.length);
    again.tokens.forEach((t, i) => {
      assert.deepEqual([t.id, t.start, t.end, t.rank], [fresh.tokens[i].id, fresh.tokens[i].start, fresh.tokens[i].end, fresh.tokens[i].rank]);
      if (t.loss !== null) assert.ok(Math.abs(t.loss - fresh.tokens[i].loss!) <= 1e-4, `token ${i}`);
    });
  } finally {
    await close();
  }
});

test('GPT-2 (no BOS): a text of several windows is scored as its windows score it; cancelling stops between windows', async () => {
  const folder = path.join(tmp, 'gpt2');
  const config = gpt2Config({ n_layer: 2, n_head: 2, n_embd: 32, block_size: 64, vocab_size: 50257 });
  await writeModelFolder(folder, { config, weights: randomWeights(config, 4), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  const session = await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache'), offline: true, threads: 1 });
  try {
    await checkWholeFile(session, STORY.repeat(3), 2, 16, 4);
    const abort = new AbortController();
    const before = session.forwardCount;
    const run = session.analyzeWholeFile(STORY.repeat(3), { signal: abort.signal, onProgress: (done) => { if (done === 2) abort.abort(); } });
    await assert.rejects(run, { name: 'AbortError' });
    assert.equal(session.forwardCount, before + 2);
  } finally {
    await session.dispose();
  }
});

test('CLI: explain --whole-file --json reports every token and its windows', () => {
  const file = path.join(tmp, 'story.txt');
  fs.writeFileSync(file, STORY.repeat(12));
  const cli = cliRunner({ cache: path.join(tmp, 'cache') });
  const out = cli.json('explain', '--whole-file', '--json', '--top-k', '3', '--file', file);
  assert.equal(out.window, undefined);
  assert.ok(out.windows.length >= 4);
  assert.equal(out.windows[0].firstToken, 1);
  assert.equal(out.windows.at(-1).scoredTo, out.tokens.length - 1);
  for (let i = 1; i < out.windows.length; i++) {
    assert.equal(out.windows[i].scoredFrom, out.windows[i - 1].scoredTo + 1, 'windows score consecutive tokens');
    assert.ok(out.windows[i].scoredFrom - out.windows[i].firstToken >= 255, 'half a context before the first scored token');
  }
  assert.equal(out.tokens.at(-1).end, STORY.repeat(12).length);
  assert.equal(out.next.length, 3);
  const refused = cli('explain', '--whole-file', '--attention', 'x');
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /--whole-file .* does not combine with --attention/);
});
