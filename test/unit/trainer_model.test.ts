// Whole models: LoRA gradients, training on one fixed batch driving the loss down, merged adapters.
// (Every architecture option's gradients against finite differences: trainer_gradcheck.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecoderConfig } from '../../src/core/models/config';
import { weightShapes } from '../../src/core/models/decoder';
import { gpt2Config, llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { buildModelGraph, initLora, mergeLora } from '../../src/core/trainer/model';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { adamwDefaults, sgdDefaults } from '../../src/core/trainer/optim';
import { TrainStep } from '../../src/core/trainer/step';
import { Rng } from '../../src/core/trainer/rng';
import { checkTape } from './autodiff_gradcheck';

const gpt = gpt2Config({ n_layer: 2, n_head: 2, n_embd: 8, block_size: 4, vocab_size: 7 });
const llama = llamaConfig({ n_embd: 8, d_ff: 12, n_layer: 2, n_head: 4, n_kv_head: 2, vocab_size: 7, block_size: 4, tied_head: false });

function batch(B: number, T: number, V: number, seed: number) {
  const rng = new Rng(seed);
  return { idx: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(V))),
    targets: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(V))) };
}

async function checkModel(config: DecoderConfig, lora?: { rank: number; alpha: number }) {
  const B = 2, T = 4;
  const g = buildModelGraph({ config, batch: B, block: T, grads: true, dtype: 'float64', lora });
  const rng = new Rng(7);
  const weights = new Map<string, Float64Array>();
  const shapes = weightShapes(config);
  for (const v of [...g.tape.params, ...g.tape.frozen]) {
    const shape = shapes.get(v.name) ?? v.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    // Large enough weights that every path carries a gradient well above the finite-difference noise.
    weights.set(v.name, Float64Array.from({ length: n }, () => (shape.length === 1 ? 1 + 0.3 * rng.normal() : 0.5 * rng.normal())));
  }
  return checkTape(g.tape, weights, batch(B, T, config.vocab_size, 3), 6, 1e-6);
}

test('LoRA: only adapters are parameters, and their gradients match finite differences', async () => {
  const g = buildModelGraph({ config: llama, batch: 1, block: 4, grads: true, lora: { rank: 2, alpha: 4 } });
  assert.deepEqual(g.tape.params.map((p) => p.name).filter((n) => !/lora_[AB]$/.test(n)), []);
  assert.equal(g.tape.params.length, 2 * 4 * llama.n_layer);
  await checkModel(llama, { rank: 2, alpha: 4 });
});

for (const [name, config, optim] of [['GPT-2 with AdamW', gpt, adamwDefaults(1e-2)], ['Llama with SGD', llama, sgdDefaults(0.5)]] as const) {
  test(`overfitting one fixed batch drives the loss down (${name})`, async () => {
    const w = randomWeights(config, 1);
    const params = new Map([...w].map(([k, v]) => [k, v.data]));
    const s = await TrainStep.create({ config, batch: 2, block: 4, params, optim, threads: 1 });
    const { idx, targets } = batch(2, 4, config.vocab_size, 5);
    const first = (await s.step(idx, targets, optim.lr)).loss;
    assert.ok(Math.abs(first - Math.log(config.vocab_size)) < 0.1, `starts near ln V: ${first}`);
    let last = first;
    for (let i = 0; i < 60; i++) last = (await s.step(idx, targets, optim.lr)).loss;
    assert.ok(last < 0.5 * first, `loss ${first} -> ${last}`);
    assert.ok(Math.abs((await s.evaluate(idx, targets)) - last) < 0.2, 'evaluation graph agrees with the training graph');
    await s.dispose();
  });
}

test('merging LoRA adapters into the base weights gives the same logits as base + adapters', async () => {
  const spec = { rank: 2, alpha: 3 };
  const base = randomWeights(llama, 2);
  const adapters = initLora(llama, spec, 3);
  const rng = new Rng(4);
  for (const [k, v] of adapters) if (k.endsWith('lora_B')) for (let i = 0; i < v.data.length; i++) v.data[i] = 0.1 * rng.normal();
  const { idx, targets } = batch(1, 4, llama.vocab_size, 6);
  const logitsOf = async (lora: typeof spec | undefined, w: Map<string, Float32Array>) => {
    const s = await GraphSession.create(buildModelGraph({ config: llama, batch: 1, block: 4, grads: false, logits: true, lora }).tape, 1);
    const out = (await s.run(w, { idx, targets })).outputs.get('logits')!;
    await s.dispose();
    return out;
  };
  const arrays = (w: Map<string, { data: Float32Array }>) => new Map([...w].map(([k, v]) => [k, v.data]));
  const withAdapters = await logitsOf(spec, new Map([...arrays(base), ...arrays(adapters)]));
  const merged = await logitsOf(undefined, arrays(mergeLora(base, adapters, spec)));
  const plain = await logitsOf(undefined, arrays(base));
  let diff = 0, moved = 0;
  for (let i = 0; i < merged.length; i++) {
    diff = Math.max(diff, Math.abs(merged[i] - withAdapters[i]));
    moved = Math.max(moved, Math.abs(plain[i] - withAdapters[i]));
  }
  assert.ok(diff < 1e-5, `merged vs adapters: ${diff}`);
  assert.ok(moved > 1e-3, 'the adapters change the model');
});
