// The runtime on the real pretrained stories260K, checked against the independent reference
// forward pass (test/reference/forward.ts) and the reference llama2.c encoder.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { AnalysisError, ModelSession } from '../../src/core/runtime/session';
import { referenceForward } from '../reference/forward';
import { readLlama2c } from '../reference/llama2c';
import { llama2cEncode, readRawPieces } from '../reference/llama2cEncode';

const MODEL = path.resolve(__dirname, '../../vendor/stories260K');
const CHECKPOINT = path.join(MODEL, 'stories260K.bin');
const TOKENIZER = path.join(MODEL, 'tok512.bin');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-runtime-'));
let session: ModelSession;
const reference = readLlama2c(CHECKPOINT);
const { pieces, scores } = readRawPieces(fs.readFileSync(TOKENIZER));
const encode = (text: string) => llama2cEncode(pieces, scores, new TextEncoder().encode(text), true, false);

before(async () => {
  await importLlama2c({ checkpoint: CHECKPOINT, tokenizer: TOKENIZER, out: path.join(tmp, 'model') });
  session = await ModelSession.load(path.join(tmp, 'model'), { cacheDir: path.join(tmp, 'cache') });
});
after(async () => {
  await session?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function logSoftmax(row: Float64Array): number[] {
  const m = Math.max(...row);
  const z = Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
  return Array.from(row, (v) => v - z);
}

test('greedy decoding from BOS tells the known story', async () => {
  const text = await session.generate('', { greedy: true, maxNewTokens: 40 });
  assert.ok(text.startsWith('Once upon a time, there was a little girl named Lily.'), text);
});

test('generation stops where the model predicts BOS, as llama2.c does', async () => {
  const text = await session.generate('', { greedy: true, maxNewTokens: 500 });
  assert.equal(text.split('Once upon a time').length, 2, `one story only:\n${text}`);
  // The model's greedy choice right after the text is BOS: the story ended there.
  const a = await session.analyze(text);
  assert.equal(a.topK(a.tokens.length - 1, 1)[0].id, 1);
});

test('analysis matches the reference forward: tokens, offsets, loss, prob, rank, top-k, attention', async () => {
  const text = 'Once upon a time, there was a little girl named Lily. She loved to play outside.';
  const a = await session.analyze(text, { attention: true });
  const ids = a.tokens.map((t) => t.id);
  assert.deepEqual(ids, encode(text));
  assert.equal(a.tokens[0].special, true);
  assert.equal(a.tokens[0].start, a.tokens[0].end);
  assert.equal(a.tokens[0].loss, null);
  assert.equal(a.tokens.slice(1).map((t) => text.slice(t.start, t.end)).join(''), text);

  const ref = referenceForward(reference.config, reference.weights, ids);
  let total = 0;
  for (let t = 1; t < ids.length; t++) {
    const lp = logSoftmax(ref.logits[t - 1]);
    const tok = a.tokens[t];
    assert.ok(Math.abs(tok.loss! - -lp[ids[t]]) < 1e-4, `loss at ${t}: ${tok.loss} vs ${-lp[ids[t]]}`);
    assert.ok(Math.abs(tok.prob! - Math.exp(lp[ids[t]])) < 1e-4);
    assert.equal(tok.rank, 1 + lp.filter((v) => v > lp[ids[t]]).length);
    total += -lp[ids[t]];
  }
  assert.ok(Math.abs(a.meanLoss - total / (ids.length - 1)) < 1e-4);
  assert.ok(Math.abs(a.perplexity - Math.exp(a.meanLoss)) < 1e-9);

  const last = ids.length - 1;
  const lp = logSoftmax(ref.logits[last]);
  const order = lp.map((_, i) => i).sort((x, y) => lp[y] - lp[x]).slice(0, 5);
  const top = a.topK(last, 5);
  assert.deepEqual(top.map((c) => c.id), order);
  top.forEach((c, i) => assert.ok(Math.abs(c.prob - Math.exp(lp[order[i]])) < 1e-4));

  const att = a.attention!;
  assert.equal(att.layers, 5);
  assert.equal(att.heads, 8);
  const T = ids.length;
  for (let l = 0; l < att.layers; l++) {
    for (let h = 0; h < att.heads; h++) {
      const got = (await a.attentionLayer(l)).heads[h];
      const want = ref.attention[l][h];
      for (let q = 0; q < T; q++) {
        let sum = 0;
        for (let k = 0; k < T; k++) {
          sum += got[q * T + k];
          if (k > q) assert.equal(got[q * T + k], 0, 'causal: no attention to later tokens');
          assert.ok(Math.abs(got[q * T + k] - want[q * T + k]) < 1e-4);
        }
        assert.ok(Math.abs(sum - 1) < 1e-5);
      }
    }
  }
});

test('" Lily" is the top prediction after "...a little girl named"', async () => {
  const a = await session.analyze('Once upon a time, there was a little girl named');
  const [best] = a.topK(a.tokens.length - 1, 3);
  assert.equal(best.text, ' Lily');
});

test('a later question is a lookup: the same analysis object, no new forward pass', async () => {
  const text = 'The cat sat on the mat.';
  const first = await session.analyze(text, { attention: true });
  assert.equal(await session.analyze(text), first);
  assert.equal(await session.analyze(text, { attention: true }), first);
  const controlled = await first.distribution(2, { temperature: 0.7, topK: 5, topP: 1 }, 10);
  assert.equal(controlled.length, 5);
  assert.ok(Math.abs(controlled.reduce((s, c) => s + c.prob, 0) - 1) < 1e-6);
  assert.deepEqual(controlled.map((c) => c.id), first.topK(2, 5).map((c) => c.id));
});

test('text past the context window: the last window is analysed and reported', async () => {
  const text = 'Tom had a red ball. '.repeat(120);
  const all = encode(text);
  assert.ok(all.length > 512);
  const a = await session.analyze(text);
  assert.equal(a.window.truncated, true);
  assert.equal(a.window.totalTokens, all.length);
  assert.equal(a.tokens.length, 512);
  assert.equal(a.tokens[0].special, true);
  assert.deepEqual(a.tokens.slice(1).map((t) => t.id), all.slice(all.length - 511));
  assert.equal(a.window.start, a.tokens[1].start);
  assert.equal(a.window.firstToken, all.length - 511);
});

test('empty text is refused with a clear message', async () => {
  await assert.rejects(session.analyze(''), (e: Error) => e instanceof AnalysisError && /empty/.test(e.message));
});

test('a cancelled request is dropped', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(session.analyze('Cancelled before it ran.', { signal: controller.signal }), /Cancelled/);
});

test('requests cancelled while they wait in the queue never run the model', async () => {
  const forwards = session.forwardCount;
  const running = session.analyze('One at a time: this one runs first.');
  const stale = Array.from({ length: 5 }, (_, i) => {
    const controller = new AbortController();
    const result = session.analyze(`Superseded while waiting, number ${i}.`, { signal: controller.signal });
    controller.abort();
    return result;
  });
  const newest = session.analyze('The newest request runs.');
  for (const r of stale) await assert.rejects(r, (e: Error) => e.name === 'AbortError');
  assert.equal((await running).text, 'One at a time: this one runs first.');
  assert.equal((await newest).text, 'The newest request runs.');
  assert.equal(session.forwardCount - forwards, 2, 'only the two requests still wanted ran the model');
});

test('a request cancelled while the model runs it still keeps the result for the next asker', async () => {
  const controller = new AbortController();
  const text = 'Cancelled while running, cached anyway.';
  const started = session.forwardCount;
  const result = session.analyze(text, { signal: controller.signal });
  while (session.forwardCount === started) await new Promise((r) => setImmediate(r));
  controller.abort();
  const first = await result;
  const forwards = session.forwardCount;
  assert.equal(await session.analyze(text), first);
  assert.equal(session.forwardCount, forwards);
});
