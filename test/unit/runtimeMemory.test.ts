// What analyses keep in memory, on a GPT-2-small-shaped model (random weights, the real GPT-2 tokenizer,
// a 256-token context so it runs in seconds): however many analyses are held, the memory they retain
// stays within the budget, and every question still gets the same answer (from kept top-k rows, or by
// running the model again for a full row).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { after, before, test } from 'node:test';
import { topIndices } from '../../src/core/analysis/distribution';
import { writeModelFolder } from '../../src/core/models/folder';
import { MODEL_PRESETS } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import type { Analysis } from '../../src/core/runtime/analysis';
import { ModelSession } from '../../src/core/runtime/session';
import { gpt2TokenizerFiles } from '../../src/core/tokenizers/gpt2';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CONTEXT = 256;
const VOCAB = 50257;
const BLOCK = CONTEXT * VOCAB * 4;          // the logits of one full-window analysis: 51 MB
const BUDGET = 2.5 * BLOCK;                 // room for two of them
const cacheDir = path.resolve(__dirname, '../../.cache/test-models');
const folder = path.join(cacheDir, `gpt2-small-ctx${CONTEXT}`);
let session: ModelSession;

const WORDS = 'the a lighthouse keeper climbed stairs every evening counting step silence lens cloth lamp beam water ships dark passed safely restless sweep wiped soft great top'.split(' ');
/** A different text for each seed, longer than the context window (the last window is analysed). */
function text(seed: number): string {
  let s = seed * 7919 + 1;
  const out: string[] = [];
  for (let i = 0; i < 400; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out.push(WORDS[s % WORDS.length]);
  }
  return `${seed}: ${out.join(' ')}.`;
}

function retainedBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

before(async () => {
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    const config = { ...MODEL_PRESETS['gpt2-small'], block_size: CONTEXT };
    if (config.arch !== 'gpt2') throw new Error('gpt2-small is a GPT-2 preset');
    await writeModelFolder(folder, { config, weights: randomWeights(config, 3), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  }
  session = await ModelSession.load(folder, { cacheDir, memoryBudgetBytes: BUDGET });
  await session.analyze('warm up');
});

after(async () => {
  await session?.dispose();
});

test('twenty full-window analyses held at once retain no more than the memory budget', async () => {
  const base = retainedBytes();
  const held: Analysis[] = [];
  for (let i = 0; i < 20; i++) {
    const a = await session.analyze(text(i));
    assert.equal(a.tokens.length, CONTEXT);
    held.push(a);
    assert.ok(session.memory.usedBytes <= BUDGET, `accounting: ${session.memory.usedBytes} > ${BUDGET}`);
  }
  const pinned = held.reduce((sum, a) => sum + a.pinnedBytes, 0);
  const growth = retainedBytes() - base;
  // Without a budget the logits alone would be 20 x 51 MB; with it, the budget plus the kept scores.
  assert.ok(growth <= BUDGET + pinned + 16 * 2 ** 20,
    `retained ${(growth / 2 ** 20).toFixed(0)} MB, budget ${(BUDGET / 2 ** 20).toFixed(0)} MB + scores ${(pinned / 2 ** 20).toFixed(1)} MB`);
  assert.ok(held.filter((a) => a.hasLogits).length <= 2);
  assert.equal(held.at(-1)!.hasLogits, true, 'the newest analysis keeps its logits');
});

test('the top-k of any position is answered without the logits and without running the model', async () => {
  const a = await session.analyze(text(100));
  const expected = await Promise.all([0, 50, 254].map(async (p) => topIndices(await a.row(p), 100)));
  for (let i = 101; i < 104; i++) await session.analyze(text(i));
  assert.equal(a.hasLogits, false, 'three newer analyses pushed it out of the budget');
  const forwards = session.forwardCount;
  [0, 50, 254].forEach((p, j) => {
    const top = a.topK(p, 100);
    assert.deepEqual(top.map((c) => c.id), expected[j]);
    assert.ok(top.every((c, i) => i === 0 || c.prob <= top[i - 1].prob));
  });
  assert.equal(session.forwardCount, forwards, 'topK ran the model');
});

test('a full row asked for after eviction is recomputed once, and equals a fresh analysis', async () => {
  const a = await session.analyze(text(200));
  for (let i = 201; i < 204; i++) await session.analyze(text(i));
  assert.equal(a.hasLogits, false);
  const controls = { temperature: 0.7, topK: 0, topP: 0.9 };
  const forwards = session.forwardCount;
  const again = await a.distribution(100, controls, 20);
  assert.equal(session.forwardCount, forwards + 1, 'one forward pass brings the logits back');
  await a.distribution(101, controls, 20);
  assert.equal(session.forwardCount, forwards + 1, 'the next row is a lookup');
  const fresh = await session.analyze(text(200), { fresh: true });
  assert.deepEqual(again, await fresh.distribution(100, controls, 20));
  assert.ok(session.memory.usedBytes <= BUDGET);
});

test('a smaller budget lets go of logits at once', async () => {
  const a = await session.analyze(text(300));
  assert.equal(a.hasLogits, true);
  session.memory.budgetBytes = BLOCK / 2;
  assert.equal(a.hasLogits, false);
  assert.ok(session.memory.usedBytes <= BLOCK / 2, 'only the scores of live analyses are left');
  // A block larger than the whole budget is used for the question and not kept.
  const row = await a.row(3);
  assert.equal(row.length, VOCAB);
  assert.equal(a.hasLogits, false);
  session.memory.budgetBytes = BUDGET;
});

test('attention is kept a layer at a time within the budget, and fetched again (the same) once let go', async () => {
  const a = await session.analyze(text(400), { attention: true });
  const T = a.tokens.length;
  const layerBytes = a.attention!.heads * T * T * 4;
  // The pass fetched the first layer only: 1/12 of every layer and head.
  assert.deepEqual(a.attentionKept.layers, [0]);
  assert.ok(a.attentionKept.bytes >= layerBytes && a.attentionKept.bytes < layerBytes * 1.1, `${a.attentionKept.bytes} bytes`);
  const forwards = session.forwardCount;
  const five = await a.attentionLayer(5);
  assert.equal(session.forwardCount, forwards + 1, 'another layer is one forward pass');
  for (const m of five.heads) {
    for (let q = 0; q < T; q += 37) {
      let sum = 0;
      for (let k = 0; k < T; k++) sum += m[q * T + k];
      assert.ok(Math.abs(sum - 1) < 1e-4, `row ${q} sums to ${sum}`);
    }
  }
  await a.attentionLayer(0);
  assert.equal(session.forwardCount, forwards + 1, 'a kept layer is a lookup');
  await a.attentionLayer(7);
  assert.deepEqual(a.attentionKept.layers, [0, 7], 'two layers are kept: the one shown and the one before');
  const again = await a.attentionLayer(5);
  assert.equal(session.forwardCount, forwards + 3, 'a layer let go is fetched again');
  assert.deepEqual(again.heads, five.heads);
  assert.deepEqual(again.grid, five.grid);
  assert.ok(session.memory.usedBytes <= BUDGET);
  // Under a budget smaller than a layer, nothing is kept, and every layer is still answered.
  session.memory.budgetBytes = layerBytes / 2;
  assert.equal(a.attentionKept.bytes, 0);
  assert.deepEqual((await a.attentionLayer(5)).heads, five.heads);
  assert.equal(a.attentionKept.bytes, 0);
  session.memory.budgetBytes = BUDGET;
});
