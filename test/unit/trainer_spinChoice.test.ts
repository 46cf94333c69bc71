// How onnxruntime's threads wait between kernels is measured, not guessed: the quicker way is kept, and a
// change of the machine's load is noticed at the next probe. Both ways give the same gradients to the bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomWeights } from '../../src/core/models/random';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { buildModelGraph } from '../../src/core/trainer/model';
import { presetConfig } from '../../src/core/trainer/presets';
import { SpinChoice, type WaitMode } from '../../src/core/trainer/spinChoice';

/** Runs `runs` steps whose durations `cost` gives per mode and step; returns the modes used. */
function drive(choice: SpinChoice, runs: number, cost: (mode: WaitMode, step: number) => number, from = 0): WaitMode[] {
  const used: WaitMode[] = [];
  for (let i = from; i < from + runs; i++) {
    const mode = choice.next();
    used.push(mode);
    choice.record(mode, cost(mode, i));
  }
  return used;
}

test('the trial times both ways and keeps the quicker one; probes switch when the load changes', () => {
  const idle = (mode: WaitMode) => (mode === 'spin' ? 40 : 50);
  const busy = (mode: WaitMode) => (mode === 'spin' ? 150 : 60);
  const quiet = new SpinChoice();
  const first = drive(quiet, 14, (m, i) => (i < 4 ? 500 : idle(m)));   // first runs warm up: not counted
  assert.ok(first.includes('spin') && first.includes('block'), 'the trial runs both');
  assert.equal(quiet.mode, 'spin');
  assert.deepEqual(new Set(drive(quiet, 50, idle)), new Set(['spin']), 'no probe before its time');
  // The machine gets busy: within the next probe the choice moves to blocking threads.
  drive(quiet, 80, busy);
  assert.equal(quiet.mode, 'block');
  const after = drive(quiet, 40, busy);
  assert.ok(after.filter((m) => m === 'block').length >= 35, 'blocking from then on');
  // And back when the machine is quiet again.
  drive(quiet, 140, idle);
  assert.equal(quiet.mode, 'spin');

  // Probes that keep losing come less and less often: over 1,000 busy runs, far fewer than one per 64.
  const backoff = new SpinChoice();
  drive(backoff, 14, busy);
  const spins = drive(backoff, 1000, busy).filter((m) => m === 'spin').length;
  assert.equal(backoff.mode, 'block');
  assert.ok(spins > 0 && spins <= 25, `${spins} probing runs of spinning threads in 1,000`);

  const loaded = new SpinChoice();
  drive(loaded, 14, busy);
  assert.equal(loaded.mode, 'block');
  // Nearly equal: the incumbent stays.
  const even = new SpinChoice();
  drive(even, 14, (m) => (m === 'spin' ? 50 : 49));
  assert.equal(even.mode, 'spin');
});

test('a training session that spins gives the gradients of one that blocks, to the bit', async () => {
  const config = presetConfig('toy', 65);
  const B = 4, T = 32;
  const tape = buildModelGraph({ config, batch: B, block: T, grads: true }).tape;
  const session = await GraphSession.create(tape, 2, { reuseGradients: true, spin: 'auto' });
  const ints = {
    idx: BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7) % 65)),
    targets: BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 11) % 65)),
  };
  const weights = new Map([...randomWeights(config, 3)].map(([k, v]) => [k, v.data]));
  const copy = (m: Map<string, Float32Array | Float64Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
  const spun = await session.run(weights, ints, 'spin');
  const spinGrads = copy(spun.grads), spinLoss = spun.outputs.get('loss')![0];
  const blocked = await session.run(weights, ints, 'block');
  assert.equal(blocked.outputs.get('loss')![0], spinLoss);
  for (const [name, g] of blocked.grads) assert.deepEqual(Float32Array.from(g), spinGrads.get(name), name);
  // Unforced runs go through the choice: both sessions take turns in its trial.
  for (let i = 0; i < 14; i++) await session.run(weights, ints);
  assert.ok(['spin', 'block'].includes(session.waitMode));
  await session.dispose();
});
