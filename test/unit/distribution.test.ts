import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { controlledDistribution, scoreRow, topIndices } from '../../src/core/analysis/distribution';

// Brute-force references, straight from the definitions.
function softmax(logits: number[], temperature = 1): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp((l - m) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function referenceSampler(logits: number[], temperature: number, topK: number, topP: number) {
  const p = softmax(logits, temperature);
  let order = logits.map((_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  if (topK > 0) order = order.slice(0, topK);
  const pk = order.map((i) => p[i]);
  const zk = pk.reduce((a, b) => a + b, 0);
  let keep = order.length;
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < order.length; i++) {
      c += pk[i] / zk;
      if (c >= topP) { keep = i + 1; break; }
    }
  }
  const kept = order.slice(0, keep);
  const z = kept.reduce((a, i) => a + p[i], 0);
  return kept.map((i) => ({ id: i, prob: p[i] / z }));
}

const rowArb = fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 2, maxLength: 80 });

test('scoreRow: loss is -log softmax and rank counts strictly larger logits', () => {
  fc.assert(fc.property(rowArb, fc.nat(), (xs, t) => {
    const target = t % xs.length;
    const row = Float32Array.from(xs);
    const s = scoreRow(row, target);
    const p = softmax(Array.from(row));
    assert.ok(Math.abs(s.loss - -Math.log(p[target])) < 1e-6 * Math.max(1, s.loss));
    assert.equal(s.rank, 1 + Array.from(row).filter((v) => v > row[target]).length);
  }), { seed: 7, numRuns: 300 });
});

test('topIndices equals a full sort', () => {
  fc.assert(fc.property(rowArb, fc.integer({ min: 0, max: 100 }), (xs, k) => {
    const row = Float32Array.from(xs);
    const expected = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
    assert.deepEqual(topIndices(row, k), expected);
  }), { seed: 11, numRuns: 300 });
});

test('controlledDistribution renormalises exactly like the reference sampler', () => {
  fc.assert(fc.property(rowArb, fc.double({ min: 0.05, max: 3, noNaN: true }), fc.integer({ min: 0, max: 30 }),
    fc.double({ min: 0.01, max: 1, noNaN: true }), (xs, temperature, topK, topP) => {
      const row = Float32Array.from(xs);
      // Skip thresholds that a cumulative sum hits within rounding error: either answer is right there.
      const p = softmax(Array.from(row), temperature).sort((a, b) => b - a);
      let c = 0;
      fc.pre(p.every((x) => { c += x; return Math.abs(c - topP) > 1e-9; }));
      const got = controlledDistribution(row, { temperature, topK, topP }, 1000);
      const want = referenceSampler(Array.from(row), temperature, topK, topP);
      assert.equal(got.kept, want.length);
      assert.deepEqual(got.tokens.map((t) => t.id), want.map((w) => w.id));
      got.tokens.forEach((t, i) => assert.ok(Math.abs(t.prob - want[i].prob) < 1e-9));
      assert.ok(Math.abs(got.tokens.reduce((a, t) => a + t.prob, 0) - 1) < 1e-9);
    }), { seed: 13, numRuns: 300 });
});

test('temperature 0 is greedy', () => {
  const row = Float32Array.from([0.1, 2, 1.9, -3]);
  assert.deepEqual(controlledDistribution(row, { temperature: 0, topK: 0, topP: 1 }, 5).tokens.map((t) => [t.id, t.prob]), [[1, 1]]);
});
