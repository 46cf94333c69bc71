// Optimizers, schedule and clipping against closed forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamwDefaults, clipGradNorm, createState, gradNorm, optimStep, sgdDefaults } from '../../src/core/trainer/optim';
import { lrAt } from '../../src/core/trainer/schedule';
import { AdamWSimd } from '../../src/core/trainer/adamwSimd';

test('AdamW: the first step moves each weight by lr * sign(grad) after decoupled decay', () => {
  const cfg = adamwDefaults(0.1);
  const p = new Map([['w', Float32Array.from([1, -2, 3])]]);
  const s = createState(cfg, p);
  optimStep(cfg, s, p, new Map([['w', Float32Array.from([0.5, -4, 1e-3])]]), 0.1);
  const decay = 1 - 0.1 * 0.01;
  const expected = [1 * decay - 0.1, -2 * decay + 0.1, 3 * decay - 0.1 * (1e-3 / (1e-3 + 1e-8))];
  p.get('w')!.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${v} vs ${expected[i]}`));
  // Second step with the same gradient: bias-corrected moments are still g and g^2, so again lr * sign(g).
  const before = Array.from(p.get('w')!);
  optimStep(cfg, s, p, new Map([['w', Float32Array.from([0.5, -4, 1e-3])]]), 0.1);
  assert.ok(Math.abs(p.get('w')![0] - (before[0] * decay - 0.1)) < 1e-6);
  assert.equal(s.step, 2);
});

test('SGD with momentum and weight decay', () => {
  const cfg = { ...sgdDefaults(0.5), momentum: 0.9, weightDecay: 0.1 };
  const p = new Map([['w', Float32Array.from([2])]]);
  const s = createState(cfg, p);
  optimStep(cfg, s, p, new Map([['w', Float32Array.from([1])]]), 0.5);   // d = 1 + 0.2 = 1.2
  assert.ok(Math.abs(p.get('w')![0] - (2 - 0.6)) < 1e-6);
  optimStep(cfg, s, p, new Map([['w', Float32Array.from([1])]]), 0.5);   // d = 1 + 0.14, buf = 1.08 + 1.14
  assert.ok(Math.abs(p.get('w')![0] - (1.4 - 0.5 * 2.22)) < 1e-6);
});

test('warm-up then cosine decay', () => {
  const s = { lr: 1, warmup: 4, total: 14, minLr: 0.1 };
  assert.ok(Math.abs(lrAt(s, 0) - 0.2) < 1e-12);
  assert.ok(Math.abs(lrAt(s, 3) - 0.8) < 1e-12);
  assert.equal(lrAt(s, 4), 1);
  assert.ok(Math.abs(lrAt(s, 9) - 0.55) < 1e-12);
  assert.equal(lrAt(s, 14), 0.1);
});

test('gradient clipping by global norm', () => {
  const g = new Map([['a', Float32Array.from([3, 0])], ['b', Float32Array.from([4])]]);
  assert.equal(clipGradNorm(g, 10), 5);
  assert.deepEqual(Array.from(g.get('b')!), [4]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(g.get('a')![0] - 0.6) < 1e-5 && Math.abs(g.get('b')![0] - 0.8) < 1e-5);
});

test('the gradient norm sums every element, whatever the length', () => {
  for (const n of [1, 3, 4, 5, 7, 8, 1001]) {
    const g = Float64Array.from({ length: n }, (_, i) => (i % 3) - 1 + i * 1e-3);
    const expected = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(gradNorm(new Map([['g', g]])) - expected) < 1e-12 * Math.max(1, expected), `length ${n}`);
  }
});

test('AdamW on float32 gradients (the SIMD loop) follows AdamW in float64 for tensors of every length, and float64 gradients take the same path', () => {
  const cfg = { ...adamwDefaults(1e-2), weightDecay: 0.05 };
  // Lengths around the loop's width of four, and a tensor larger than all before it (the module's memory grows).
  const lengths = [1, 3, 4, 5, 7, 64, 1001, 70001];
  const p = new Map(lengths.map((n) => [`w${n}`, Float32Array.from({ length: n }, (_, i) => Math.sin(i + n))]));
  const p64 = new Map(lengths.map((n) => [`w${n}`, Float32Array.from(p.get(`w${n}`)!)]));
  const ref = new Map(lengths.map((n) => [`w${n}`, { p: Float64Array.from(p.get(`w${n}`)!), m: new Float64Array(n), v: new Float64Array(n) }]));
  const s = createState(cfg, p), s64 = createState(cfg, p64);
  for (let t = 1; t <= 6; t++) {
    const grads = new Map(lengths.map((n) => [`w${n}`, Float32Array.from({ length: n }, (_, i) => Math.cos(i * 3 + t) * (i % 5 === 0 ? 10 : 0.01))]));
    optimStep(cfg, s, p, grads, 1e-2);
    optimStep(cfg, s64, p64, new Map([...grads].map(([k, g]) => [k, Float64Array.from(g)])), 1e-2);
    for (const [k, r] of ref) {
      const g = grads.get(k)!;
      for (let i = 0; i < g.length; i++) {
        r.m[i] = 0.9 * r.m[i] + 0.1 * g[i];
        r.v[i] = 0.999 * r.v[i] + 0.001 * g[i] * g[i];
        const mHat = r.m[i] / (1 - 0.9 ** t), vHat = r.v[i] / (1 - 0.999 ** t);
        r.p[i] = r.p[i] * (1 - 1e-2 * 0.05) - (1e-2 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    }
  }
  for (const [k, r] of ref) {
    const [a, b] = [p.get(k)!, p64.get(k)!];
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i] - r.p[i]) < 2e-6, `${k}[${i}]: ${a[i]} vs ${r.p[i]}`);
      assert.ok(Math.abs(b[i] - r.p[i]) < 2e-6, `${k}[${i}] (float64 gradients): ${b[i]} vs ${r.p[i]}`);
    }
    const [m, v] = s.slots.get(k)!;
    assert.ok(Math.abs(m[0] - r.m[0]) < 1e-6 && Math.abs(v[a.length - 1] - r.v[a.length - 1]) < 1e-6, `${k}: moments`);
    assert.ok(a.every(Number.isFinite), `${k}: finite`);
  }
});

test('moments and gradients in the SIMD memory: the same update as arrays copied through it, and the same gradient norm', () => {
  const cfg = adamwDefaults(3e-3);
  const lengths = [5, 128, 4099];
  const kernels = AdamWSimd.create(AdamWSimd.arenaFloats(lengths) * 3, Math.max(...lengths))!;
  assert.ok(kernels, 'WebAssembly SIMD is available');
  const init = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.3 + n));
  const pIn = new Map(lengths.map((n) => [`w${n}`, init(n)]));
  const pOut = new Map(lengths.map((n) => [`w${n}`, init(n)]));
  const inMemory = createState(cfg, pIn, kernels), copied = createState(cfg, pOut);
  const grads = new Map(lengths.map((n) => [`w${n}`, kernels.array(n)]));
  for (let t = 1; t <= 4; t++) {
    for (const [k, g] of grads) g.forEach((_, i) => { g[i] = Math.cos(i * 7 + t) * (i % 3 ? 0.02 : 3); });
    const plain = new Map([...grads].map(([k, g]) => [k, Float32Array.from(g)]));
    const norm = gradNorm(grads, kernels), reference = gradNorm(plain);
    assert.ok(Math.abs(norm - reference) < 1e-12 * reference, `step ${t}: norm ${norm} vs ${reference}`);
    optimStep(cfg, inMemory, pIn, grads, 3e-3);
    optimStep(cfg, copied, pOut, plain, 3e-3);
  }
  for (const [k, p] of pIn) {
    assert.deepEqual(p, pOut.get(k), k);
    assert.deepEqual(inMemory.slots.get(k), copied.slots.get(k), `${k}: moments`);
  }
  assert.throws(() => kernels.array(10 ** 6), /arena full/);
  // More than a WebAssembly memory holds: no module, and the caller keeps its arrays in JavaScript.
  assert.equal(AdamWSimd.create(2 ** 31, 16), null);
});
