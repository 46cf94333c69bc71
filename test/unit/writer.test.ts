// The written ONNX graphs, run by onnxruntime-node, against the independent reference forward pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecoderConfig } from '../../src/core/models/config';
import { readWeightsFromOnnx, writeModelOnnx } from '../../src/core/models/onnxWeights';
import { MODEL_PRESETS } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { referenceForward } from '../reference/forward';
import { maxAbsDiff, run, session, sharpen } from '../reference/ortRun';

const gpt2: DecoderConfig = { ...MODEL_PRESETS['gpt2-tiny'], vocab_size: 50, block_size: 32 };
const llamaGqa = MODEL_PRESETS['llama-tiny'];
const llamaOwnHead: DecoderConfig = { ...llamaGqa, n_kv_head: 4, tied_head: false, rope_theta: 500 };
const configs: [string, DecoderConfig][] = [['gpt2', gpt2], ['llama gqa', llamaGqa], ['llama own classifier', llamaOwnHead]];

function tokens(n: number, vocab: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (seed * 31 + i * 17 + ((i * i) % 7)) % vocab);
}

const flat = (rows: ArrayLike<number>[]) => rows.flatMap((r) => Array.from(r));

for (const [label, c] of configs) {
  const weights = sharpen(randomWeights(c, 7), 11);
  const bytes = writeModelOnnx(c, weights, { attentionOutputs: true });
  const V = c.vocab_size;

  test(`${label}: logits equal the reference at several lengths`, async () => {
    const s = await session(bytes);
    for (const n of [1, 2, 5, 13]) {
      const ids = tokens(n, V, n);
      const { out } = await run(s, c, [ids]);
      assert.deepEqual(out.logits.dims, [1, n, V]);
      const ref = referenceForward(c, weights, ids);
      const spread = Math.max(...flat(ref.logits)) - Math.min(...flat(ref.logits));
      assert.ok(spread > 1, 'weights sharp enough for the comparison to mean something');
      assert.ok(maxAbsDiff(out.logits.data as Float32Array, flat(ref.logits)) < 1e-4, `length ${n}`);
    }
  });

  test(`${label}: attention outputs are causal distributions equal to the reference`, async () => {
    const s = await session(bytes);
    const n = 9;
    const ids = tokens(n, V, 3);
    const { out } = await run(s, c, [ids]);
    const ref = referenceForward(c, weights, ids);
    const layers = c.n_layer;
    const heads = c.n_head;
    for (let l = 0; l < layers; l++) {
      const a = out[`attentions.${l}`];
      assert.deepEqual(a.dims, [1, heads, n, n]);
      const p = a.data as Float32Array;
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let j = 0; j < n; j++) {
            const v = p[(h * n + i) * n + j];
            if (j > i) assert.equal(v, 0, `layer ${l} head ${h} row ${i} col ${j}`);
            sum += v;
          }
          assert.ok(Math.abs(sum - 1) < 1e-5);
        }
      }
      assert.ok(maxAbsDiff(p, flat(ref.attention[l])) < 1e-5, `layer ${l}`);
    }
  });

  test(`${label}: prefix then continuation with the KV cache equals one full pass`, async () => {
    const s = await session(bytes);
    const ids = tokens(11, V, 5);
    const full = await run(s, c, [ids]);
    const first = await run(s, c, [ids.slice(0, 6)]);
    const second = await run(s, c, [ids.slice(6, 10)], { past: first.present });
    const third = await run(s, c, [ids.slice(10)], { past: second.present });
    const pieces = [first, second, third].flatMap((r) => Array.from(r.out.logits.data as Float32Array));
    assert.ok(maxAbsDiff(pieces, full.out.logits.data as Float32Array) < 1e-4);
    assert.deepEqual(third.out['present.0.key'].dims.slice(2, 3), [11]);
    assert.deepEqual(third.out['attentions.0'].dims.slice(2), [1, 11]);
  });

  test(`${label}: padding keys are hidden and a batch row matches its own run`, async () => {
    const s = await session(bytes);
    const ids = tokens(7, V, 9);
    const mask = [1, 1, 0, 1, 1, 0, 1];
    const { out } = await run(s, c, [ids, tokens(7, V, 4)], { mask: [mask, Array(7).fill(1)] });
    const ref = referenceForward(c, weights, ids, mask);
    const got = out.logits.data as Float32Array;
    for (const t of [0, 1, 3, 4, 6]) {
      assert.ok(maxAbsDiff(got.subarray(t * V, (t + 1) * V), ref.logits[t]) < 1e-4, `position ${t}`);
    }
    const alone = await run(s, c, [tokens(7, V, 4)]);
    assert.ok(maxAbsDiff(got.subarray(7 * V), alone.out.logits.data as Float32Array) < 1e-5);
    const a = out['attentions.0'].data as Float32Array;
    for (let i = 0; i < 7; i++) assert.equal(a[i * 7 + 2], 0);
  });

  test(`${label}: readWeightsFromOnnx inverts the writer`, () => {
    const back = readWeightsFromOnnx(bytes, c);
    assert.deepEqual([...back.keys()].sort(), [...weights.keys()].sort());
    for (const [name, t] of weights) {
      assert.deepEqual(back.get(name)!.shape, t.shape);
      assert.deepEqual(back.get(name)!.data, t.data, name);
    }
  });
}

test('without attentionOutputs the graph has no attention outputs but still Softmax -> MatMul', async () => {
  const bytes = writeModelOnnx(llamaGqa, randomWeights(llamaGqa, 1));
  const s = await session(bytes);
  assert.deepEqual(s.outputNames.filter((n) => n.startsWith('attentions')), []);
  assert.deepEqual(s.inputNames.slice(0, 2), ['input_ids', 'attention_mask']);
  const { decodeModel } = await import('../../src/core/onnx/builder');
  const nodes = decodeModel(bytes).graph!.node!;
  const softmaxes = nodes.filter((n) => n.opType === 'Softmax');
  assert.equal(softmaxes.length, llamaGqa.n_layer);
  for (const sm of softmaxes) {
    assert.ok(nodes.some((n) => n.opType === 'MatMul' && n.input![0] === sm.output![0]));
  }
});

test('randomWeights is deterministic and initialises like GPT-2', () => {
  const c = { ...MODEL_PRESETS['gpt2-tiny'], vocab_size: 1000 };
  const a = randomWeights(c, 42);
  const b = randomWeights(c, 42);
  assert.deepEqual(a.get('layers.1.mlp.up.weight')!.data, b.get('layers.1.mlp.up.weight')!.data);
  assert.notDeepEqual(randomWeights(c, 43).get('tok_emb')!.data.subarray(0, 8), a.get('tok_emb')!.data.subarray(0, 8));
  const wte = a.get('tok_emb')!.data;
  let ss = 0;
  for (const v of wte) ss += v * v;
  assert.ok(Math.abs(Math.sqrt(ss / wte.length) - 0.02) < 0.0005);
  assert.ok(a.get('layers.0.ln_1.weight')!.data.every((v) => v === 1));
  assert.ok(a.get('layers.0.attn.q.bias')!.data.every((v) => v === 0));
  assert.ok(randomWeights(MODEL_PRESETS['llama-tiny'], 1).get('ln_f.weight')!.data.every((v) => v === 1));
});

test('readWeightsFromOnnx refuses a file that does not match its config, naming the weights', () => {
  const bytes = writeModelOnnx(gpt2, randomWeights(gpt2, 1));
  const noBias = { ...gpt2, bias: { qkv: false, o: true, mlp: true, norm: true } };
  assert.throws(() => readWeightsFromOnnx(bytes, noBias), /config does not know: layers\.0\.attn\.q\.bias/);
  assert.throws(() => readWeightsFromOnnx(bytes, { ...gpt2, tied_head: false }), /lacks 1 weight\(s\).*head\.weight/);
  assert.throws(() => readWeightsFromOnnx(bytes, { ...gpt2, d_ff: 128 }), /layers\.0\.mlp\.up\.weight: shape \[64,256\], the config says \[64,128\]/);
});

test('the writer refuses weights its config has no place for, and inconsistent configs', () => {
  const w = randomWeights(gpt2, 1);
  w.set('layers.0.attn.q.lora_A', { data: new Float32Array(4), shape: [2, 2] });
  assert.throws(() => writeModelOnnx(gpt2, w), /no place for: layers\.0\.attn\.q\.lora_A/);
  assert.throws(() => writeModelOnnx({ ...llamaGqa, n_kv_head: 3 }, randomWeights(llamaGqa, 1)), /4 heads do not share 3 key\/value heads/);
});
