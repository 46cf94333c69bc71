// Attribution on real models loaded through ModelSession, against independent computations: gradient x
// input against central finite differences of the reference forward (embedding rows perturbed there),
// integrated gradients' completeness and its one-step case, occlusion against explicit re-runs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { attribute } from '../../src/core/lenses/attribution';
import { ModelSession } from '../../src/core/runtime/session';
import { referenceForward } from '../reference/forward';
import { LensModel, RANDOM_CONFIGS, foreignCopy, randomModel, stories } from './lensModels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-attribution-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const load = (dir: string) => ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') });

interface Objective { target: number; contrast: number | null }

/** f of a row of logits, in float64: log p(target), or logit(target) - logit(contrast). */
function f(logits: ArrayLike<number>, o: Objective): number {
  if (o.contrast !== null) return logits[o.target] - logits[o.contrast];
  const row = Array.from(logits);
  const max = Math.max(...row);
  return row[o.target] - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
}

/** The token-embedding rows of ids, straight from the weights. */
const rowsOf = (m: LensModel, ids: number[]) => {
  const C = m.config.n_embd, E = m.weights.get('tok_emb')!.data;
  return ids.map((id) => Float64Array.from(E.subarray(id * C, (id + 1) * C)));
};

/** f through the reference forward with the given embedding rows. */
const refF = (m: LensModel, ids: number[], rows: Float64Array[], o: Objective) =>
  f(referenceForward(m.config, m.weights, ids, undefined, { embeddings: rows }).logits.at(-1)!, o);

/** d/dh f(rows with row i moved by h * dir) at 0, central differences on the reference. */
function directional(m: LensModel, ids: number[], rows: Float64Array[], i: number, dir: ArrayLike<number>, o: Objective): number {
  const h = 1e-4;
  const moved = (s: number) => rows.map((r, j) => (j === i ? r.map((v, c) => v + s * h * dir[c]) : r));
  return (refF(m, ids, moved(1), o) - refF(m, ids, moved(-1), o)) / (2 * h);
}

const close = (got: number, want: number, what: string, rel = 1e-2, abs = 1e-3) =>
  assert.ok(Math.abs(got - want) <= abs + rel * Math.abs(want), `${what}: ${got} vs ${want}`);

async function checkModel(m: LensModel, target?: string, contrast?: string) {
  const s = await load(m.dir);
  try {
    const a = await s.analyze(m.text);
    const ids = a.tokens.map((t) => t.id);
    const T = ids.length;
    const grad = await attribute(s, m.text, { method: 'gradient', target, contrast });
    const o: Objective = { target: grad.target.id, contrast: grad.contrast?.id ?? null };
    if (target === undefined) assert.equal(grad.target.id, a.topK(T - 1, 1)[0].id, 'the default target is the top-1');
    const e = rowsOf(m, ids);
    close(grad.value, refF(m, ids, e, o), 'value', 0, 1e-4);
    if (contrast === undefined) close(grad.value, Math.log((await a.distribution(T - 1, { temperature: 1, topK: 0, topP: 1 }, s.info.vocabSize)).find((c) => c.id === o.target)!.prob), 'value is log p', 0, 1e-5);
    assert.equal(grad.scores.length, T);
    assert.ok(grad.scores.some((x) => Math.abs(x) > 1e-3), 'scores are not all zero');
    // Gradient x input = the derivative of f along e_i itself (positions, when learned, are not multiplied).
    grad.scores.forEach((score, i) => close(score, directional(m, ids, e, i, e[i], o), `gradient x input at ${i}`));

    const C = m.config.n_embd, V = m.config.vocab_size, E = m.weights.get('tok_emb')!.data;
    const mean = new Float64Array(C);
    for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) mean[c] += E[v * C + c] / V;
    const ig = await attribute(s, m.text, { method: 'integrated-gradients', target, contrast });
    assert.equal(ig.steps, 64);
    assert.equal(ig.baseline, 'mean token embedding');
    close(ig.value, grad.value, 'one value for every method', 0, 1e-9);
    close(ig.baselineValue!, refF(m, ids, ids.map(() => mean), o), 'f at the baseline', 0, 1e-4);
    const total = ig.scores.reduce((x, y) => x + y, 0);
    const gap = ig.value - ig.baselineValue!;
    assert.ok(Math.abs(gap) > 0.1, 'the baseline is far from the text');
    assert.ok(Math.abs(total - gap) <= 0.01 * Math.abs(gap), `completeness: ${total} vs ${gap}`);
    // One step: (e_i - b) . df/dx_i at the midpoint, i.e. the derivative along e_i - b there.
    const one = await attribute(s, m.text, { method: 'integrated-gradients', target, contrast, steps: 1 });
    const mid = e.map((r) => r.map((v, c) => mean[c] + 0.5 * (v - mean[c])));
    one.scores.forEach((score, i) =>
      close(score, directional(m, ids, mid, i, e[i].map((v, c) => v - mean[c]), o), `one-step integrated gradients at ${i}`));

    const occ = await attribute(s, m.text, { method: 'occlusion', target, contrast });
    assert.equal(occ.scores.length, T);
    for (let i = 0; i < T; i++) {
      const without = ids.filter((_, j) => j !== i);
      const logits = (await s.run([without], ['logits'])).logits;
      const width = logits.dims[2];
      const last = (logits.data as Float32Array).subarray((T - 2) * width, (T - 1) * width);
      close(occ.scores[i], occ.value - f(last, o), `occlusion at ${i}`, 0, 1e-5);
    }
    return { occ, ids, s };
  } catch (err) {
    await s.dispose();
    throw err;
  }
}

test('stories260K: gradient, integrated gradients and occlusion of the top-1', async () => {
  const m = await stories(tmp);
  const { occ, ids, s } = await checkModel(m);
  try {
    assert.deepEqual(occ.target, { id: 317, text: ' Lily' });
    // Occlusion against analyses of the text with the token's characters removed, where that text
    // tokenizes to the same ids minus that token.
    let checked = 0;
    const tokens = (await s.analyze(m.text)).tokens;
    for (let i = 1; i < tokens.length; i++) {
      const text = m.text.slice(0, tokens[i].start) + m.text.slice(tokens[i].end);
      const without = ids.filter((_, j) => j !== i);
      if (JSON.stringify(s.encode(text)) !== JSON.stringify(without)) continue;
      const a = await s.analyze(text);
      const lp = Math.log((await a.distribution(a.tokens.length - 1, { temperature: 1, topK: 0, topP: 1 }, 512)).find((c) => c.id === 317)!.prob);
      close(occ.scores[i], occ.value - lp, `occlusion of ${JSON.stringify(tokens[i].text)}`, 0, 1e-5);
      checked++;
    }
    assert.ok(checked >= 3, `${checked} texts re-analysed`);
  } finally {
    await s.dispose();
  }
});

test('stories260K: " Lily" against " S", the target and contrast given as text and as an id', async () => {
  const m = await stories(tmp);
  const { occ, s } = await checkModel(m, ' Lily', '301');
  try {
    assert.deepEqual([occ.target, occ.contrast], [{ id: 317, text: ' Lily' }, { id: 301, text: ' S' }]);
  } finally {
    await s.dispose();
  }
});

RANDOM_CONFIGS.forEach(([label], n) => {
  test(`${label}: gradient, integrated gradients and occlusion against the reference`, async () => {
    const { s } = await checkModel(await randomModel(tmp, n));
    await s.dispose();
  });
});

test('bad targets are refused with a message; foreign exports support occlusion only', async () => {
  const m = await stories(tmp);
  const s = await load(m.dir);
  const foreign = await load(await foreignCopy(m, tmp));
  try {
    await assert.rejects(attribute(s, m.text, { method: 'occlusion', target: 'Lily' }), /no token of the vocabulary reads exactly/);
    await assert.rejects(attribute(s, m.text, { method: 'occlusion', target: '512' }), /from 0 to 511/);
    await assert.rejects(attribute(s, m.text, { method: 'occlusion', target: ' Lily', contrast: '317' }), /is the target itself/);
    for (const method of ['gradient', 'integrated-gradients'] as const) {
      await assert.rejects(attribute(foreign, m.text, { method }), /needs a model Token Lens wrote/);
    }
    const mine = await attribute(s, m.text, { method: 'occlusion' });
    const theirs = await attribute(foreign, m.text, { method: 'occlusion' });
    theirs.scores.forEach((x, i) => close(x, mine.scores[i], `foreign occlusion at ${i}`, 0, 1e-5));
  } finally {
    await s.dispose();
    await foreign.dispose();
  }
});

test('progress reaches the total; a cancelled request stops with "Cancelled."', async () => {
  const m = await stories(tmp);
  const s = await load(m.dir);
  try {
    for (const method of ['occlusion', 'integrated-gradients'] as const) {
      const seen: [number, number][] = [];
      await attribute(s, m.text, { method, onProgress: (done, total) => seen.push([done, total]) });
      assert.ok(seen.length > 0 && seen.at(-1)![0] === seen.at(-1)![1], `${method}: ${JSON.stringify(seen)}`);
    }
    const stop = new AbortController();
    stop.abort();
    for (const method of ['occlusion', 'gradient', 'integrated-gradients'] as const) {
      // A text not analysed yet: the cached analysis would otherwise answer at once.
      await assert.rejects(attribute(s, `${m.text} Lily`, { method, signal: stop.signal }), /Cancelled/);
    }
  } finally {
    await s.dispose();
  }
});
