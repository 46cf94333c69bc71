// Gradients written into reused arrays: the same arrays every run, the same values as fresh ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomWeights } from '../../src/core/models/random';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { buildModelGraph } from '../../src/core/trainer/model';
import { presetConfig } from '../../src/core/trainer/presets';

test('a session reusing its gradient arrays gives the gradients a fresh session gives, run after run', async () => {
  const config = presetConfig('toy', 65);
  const B = 2, T = 16;
  const tape = buildModelGraph({ config, batch: B, block: T, grads: true }).tape;
  const reusing = await GraphSession.create(tape, 1, { reuseGradients: true });
  const fresh = await GraphSession.create(tape, 1);
  const ints = {
    idx: BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7) % 65)),
    targets: BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 11) % 65)),
  };
  let first: Map<string, Float32Array | Float64Array> | null = null;
  for (const seed of [0, 1]) {
    const weights = new Map([...randomWeights(config, seed)].map(([k, v]) => [k, v.data]));
    const a = await reusing.run(weights, ints), b = await fresh.run(weights, ints);
    assert.equal(a.outputs.get('loss')![0], b.outputs.get('loss')![0]);
    assert.equal(a.grads.size, tape.params.length);
    for (const [name, g] of b.grads) {
      assert.deepEqual(a.grads.get(name), g, `${name} with weights ${seed}`);
      if (first) assert.equal(a.grads.get(name), first.get(name), `${name}: the same array on every run`);
    }
    assert.ok([...a.grads.values()].some((g) => g.some((x) => x !== 0)), 'the gradients are not all zero');
    first ??= new Map(a.grads);
  }
  await reusing.dispose();
  await fresh.dispose();
});
