// Gradient checking: the gradients a graph emits against central finite differences of its own forward,
// in float64 so that differences of 1e-6 are meaningful.
import assert from 'node:assert/strict';
import { Tape, Value } from '../../src/core/trainer/autodiff';
import { mul, sum } from '../../src/core/trainer/ops';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { Rng } from '../../src/core/trainer/rng';

export interface Check {
  params: Record<string, number[]>;
  ints?: Record<string, { shape: number[]; data: number[] }>;
  build: (t: Tape, p: Record<string, Value>, ints: Record<string, Value>) => Value;
  /** How to draw each parameter's values (default standard normal). */
  init?: (name: string, rng: Rng) => number;
  /** Entries per parameter to check by finite differences (default all, up to 40). */
  samples?: number;
  tol?: number;
}

export async function gradcheck(c: Check): Promise<number> {
  const rng = new Rng(1234);
  const t = new Tape('gradcheck', 'float64');
  const p: Record<string, Value> = {};
  for (const [name, shape] of Object.entries(c.params)) p[name] = t.param(name, shape);
  const iv: Record<string, Value> = {};
  const ints: Record<string, BigInt64Array> = {};
  for (const [name, { shape, data }] of Object.entries(c.ints ?? {})) {
    iv[name] = t.indices(name, shape);
    ints[name] = BigInt64Array.from(data.map(BigInt));
  }
  const out = c.build(t, p, iv);
  // A random projection makes every output element matter to the scalar being differentiated.
  const proj = Array.from({ length: out.size }, () => rng.normal());
  const loss = out.shape.length === 0 ? out : sum(mul(out, t.constValue(proj, out.shape)), out.shape.map((_, i) => i), false);
  const grads = t.backward(loss);
  t.finish({ loss }, grads);
  const weights = new Map<string, Float64Array>();
  for (const [name, shape] of Object.entries(c.params)) {
    const n = shape.reduce((a, b) => a * b, 1);
    weights.set(name, Float64Array.from({ length: n }, () => (c.init ? c.init(name, rng) : rng.normal())));
  }
  return checkTape(t, weights, ints, c.samples ?? 40, c.tol ?? 1e-6, rng);
}

/**
 * Compares a finished tape's `grad.*` outputs with central differences of the `loss` of a float64 tape.
 * Without `analyticTape` both are `t` (float64); with it (the same model built in float32), the float32
 * gradients are checked against the float64 loss, so the float32 kernels training runs are the ones tested.
 */
export async function checkTape(t: Tape, weights: Map<string, Float64Array>, ints: Record<string, BigInt64Array>,
  samples: number, tol: number, rng = new Rng(99), analyticTape?: Tape): Promise<number> {
  assert.equal(t.dtype, 'float64', 'finite differences need float64');
  const s = await GraphSession.create(t, 1);
  const lossAt = async () => (await s.run(weights, ints)).outputs.get('loss')![0];
  let analytic = (await s.run(weights, ints)).grads;
  if (analyticTape) {
    const s32 = await GraphSession.create(analyticTape, 1);
    analytic = (await s32.run(new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)])), ints)).grads;
    await s32.dispose();
  }
  const h = 1e-5;
  let worst = 0;
  for (const p of t.params) {
    const name = p.name, w = weights.get(name)!;
    const g = analytic.get(name)!;
    assert.equal(g.length, w.length, `gradient of ${name} has the parameter's size`);
    const count = Math.min(w.length, samples);
    for (let j = 0; j < count; j++) {
      const i = count === w.length ? j : rng.int(w.length);
      const orig = w[i];
      w[i] = orig + h; const up = await lossAt();
      w[i] = orig - h; const down = await lossAt();
      w[i] = orig;
      const numeric = (up - down) / (2 * h);
      const err = Math.abs(numeric - g[i]) / Math.max(1, Math.abs(numeric));
      worst = Math.max(worst, err);
      assert.ok(err < tol, `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
    }
  }
  await s.dispose();
  return worst;
}
