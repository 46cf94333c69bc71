// The logit lens on real models loaded as a user loads them (ModelSession): its last layer is the model's
// own distribution, and intermediate layers equal the independent reference forward's hidden states
// decoded through ln_f and the head.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { decisionDepths, logitLens } from '../../src/core/lenses/logitLens';
import { ModelSession } from '../../src/core/runtime/session';
import { referenceForward } from '../reference/forward';
import { LensModel, RANDOM_CONFIGS, foreignCopy, randomModel, stories } from './lensModels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-logit-lens-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const load = (dir: string) => ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') });

function softmax(row: Float64Array): Float64Array {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/**
 * Every layer of the lens against the reference forward's hidden states, through ln_f and the head. `dir`:
 * the folder to load, when not the model's own (a foreign copy of it).
 */
async function checkAgainstReference(m: LensModel, k: number, dir = m.dir) {
  const s = await load(dir);
  try {
    const lens = await logitLens(s, m.text, k);
    const a = await s.analyze(m.text);
    const ids = a.tokens.map((t) => t.id);
    const T = ids.length, L = m.config.n_layer;
    assert.equal(lens.layers, L);
    assert.equal(lens.top.length, L, 'exactly L rows: no embedding row');
    for (const layer of lens.top) {
      assert.equal(layer.length, T, 'one column per token, BOS included');
      for (const cell of layer) {
        assert.equal(cell.length, k);
        for (let j = 1; j < k; j++) assert.ok(cell[j - 1].prob >= cell[j].prob, 'sorted by falling probability');
      }
    }
    // The last layer is the model's own distribution, from the normal analysis path.
    for (let i = 0; i < T; i++) {
      const want = a.topK(i, k);
      assert.deepEqual(lens.top[L - 1][i].map((c) => c.text), want.map((c) => c.text));
      lens.top[L - 1][i].forEach((c, j) => assert.ok(Math.abs(c.prob - want[j].prob) < 1e-5, `position ${i} rank ${j}`));
    }
    const ref = referenceForward(m.config, m.weights, ids, undefined, { lens: true });
    let moved = 0;
    for (let l = 0; l < L; l++) {
      for (let i = 0; i < T; i++) {
        const p = softmax(ref.lens![l][i]);
        for (const c of lens.top[l][i]) assert.ok(Math.abs(c.prob - p[c.id]) < 1e-4, `layer ${l} position ${i} token ${c.id}`);
        const best = p.indexOf(Math.max(...p));
        assert.equal(lens.top[l][i][0].id, best, `top-1 of layer ${l} at ${i}`);
        if (l < L - 1 && best !== lens.top[L - 1][i][0].id) moved++;
      }
    }
    assert.ok(moved > 0, 'some intermediate prediction differs from the final one: the rows are not copies');
    // Decision depth, from the reference's own argmaxes.
    const argmax = (l: number, i: number) => { const r = ref.lens![l][i]; return r.indexOf(Math.max(...r)); };
    lens.decisionDepth.forEach((d, i) => {
      const final = argmax(L - 1, i);
      for (let l = d; l < L; l++) assert.equal(argmax(l, i), final, `position ${i} settled at ${d}`);
      if (d > 0) assert.notEqual(argmax(d - 1, i), final);
    });
  } finally {
    await s.dispose();
  }
}

test('stories260K: L x T x k cells; the last layer is the analysis, every layer the reference', async () => {
  await checkAgainstReference(await stories(tmp), 10);
});

RANDOM_CONFIGS.forEach(([label], n) => {
  test(`${label}: every layer of the lens equals the reference`, async () => {
    await checkAgainstReference(await randomModel(tmp, n), 3);
  });
});

test('decision depth: the first layer from which the final top-1 stays', () => {
  const cell = (id: number) => [{ id, text: String(id), prob: 1 }];
  // One position; top-1 ids per layer: 5, 7, 5, 5 -> settles at layer 2. 7, 7, 7 -> 0.
  assert.deepEqual(decisionDepths([5, 7, 5, 5].map((id) => [cell(id)])), [2]);
  assert.deepEqual(decisionDepths([7, 7, 7].map((id) => [cell(id)])), [0]);
});

test('a foreign export without hidden-state outputs gets them by graph surgery: every layer is still the reference', async () => {
  const models = [await stories(tmp), await randomModel(tmp, 0), await randomModel(tmp, 1)];
  for (const m of models) {
    const dir = await foreignCopy(m, tmp);
    const s = await load(dir);
    try {
      assert.equal(s.hiddenStateNames.length, m.config.n_layer, 'surgery found every block');
    } finally {
      await s.dispose();
    }
    await checkAgainstReference(m, 5, dir);
  }
});
