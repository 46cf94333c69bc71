// A run whose learning rate blows the weights up: the checkpoint it leaves holds the last weights (and Adam
// moments) whose loss was finite, and training resumes from it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../src/core/trainer/checkpoint';
import { Trainer } from '../../src/core/trainer/trainer';

const dir = mkdtempSync(join(tmpdir(), 'trainer-nan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'hamlet.txt');
writeFileSync(file, 'To be, or not to be, that is the question:\nWhether \'tis nobler in the mind to suffer\n'.repeat(12));
// AdamW with lr 1000 warming up over 20 steps: the loss climbs for a dozen or so steps, then turns NaN.
const blowsUp = { file, preset: 'toy', batch: 2, block: 16, threads: 1, evalBatches: 1, steps: 60, optimizer: 'adamw', lr: 1000, warmup: 20 } as const;

const copy = (w: Map<string, { data: Float32Array }>) => new Map([...w].map(([k, v]) => [k, Float32Array.from(v.data)]));
const allFinite = (arrays: Iterable<Float32Array>) => [...arrays].every((a) => a.every(Number.isFinite));

test('after a NaN stop the checkpoint holds the last finite step, not the blown-up weights', async () => {
  const out = join(dir, 'run');
  const t = await Trainer.create({ ...blowsUp, out });
  // The weights as they stood after each step, seen from outside the trainer (step 0: before training).
  const seen = [copy(t.weights())];
  const losses: number[] = [];
  const result = await t.run((p) => { seen[p.step] = copy(t.weights()); losses.push(p.loss); });
  await t.dispose();

  assert.equal(result.status, 'diverged', result.message);
  const lastReported = seen.length - 1;
  assert.ok(lastReported >= 5, `diverged after only ${lastReported} steps: the test would not tell steps apart`);
  assert.ok(losses.every(Number.isFinite), 'every reported loss was finite');
  // The weights after the last reported step gave the NaN; those before the update that made them are kept.
  assert.equal(result.step, lastReported - 1);
  assert.match(result.message, new RegExp(`loss became NaN at step ${lastReported + 1}.*keeps step ${lastReported - 1}, the last with a finite loss`));

  const ckpt = await loadCheckpoint(join(out, CHECKPOINT_FILE));
  assert.equal(ckpt.meta.step, result.step);
  assert.ok(allFinite(ckpt.params.values()), 'the checkpoint has non-finite weights');
  assert.ok(allFinite([...ckpt.slots.values()].flat()), 'the checkpoint has non-finite Adam moments');
  const expected = seen[result.step];
  assert.deepEqual([...ckpt.params.keys()].sort(), [...expected.keys()].sort());
  for (const [name, w] of ckpt.params) assert.deepEqual(w, expected.get(name), name);
  const blown = seen[lastReported];
  assert.ok([...ckpt.params].some(([name, w]) => !w.every((x, i) => Object.is(x, blown.get(name)![i]))),
    'the checkpoint holds the weights that gave the NaN');
  assert.equal(ckpt.meta.optimStep, result.step, 'Adam step count of the kept state');
});

test('a run resumed from that checkpoint with a lower learning rate trains on', async () => {
  const out = join(dir, 'resume');
  const first = await Trainer.create({ ...blowsUp, out });
  const diverged = await first.run();
  await first.dispose();
  assert.equal(diverged.status, 'diverged');
  const again = await Trainer.create({ ...blowsUp, out, resume: true, lr: 1e-3, steps: diverged.step + 5 });
  const losses: number[] = [];
  const result = await again.run((p) => losses.push(p.loss));
  await again.dispose();
  assert.equal(result.status, 'done', result.message);
  assert.equal(losses.length, 5);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
});
