// Each fused op written out as plain ops (src/core/runtime/unfuse.ts) computes what onnxruntime's own
// kernel computes: one node graphs with the fused op, run by onnxruntime before and after the rewrite, on
// random inputs. Covers the attribute and input combinations the Hub fixtures do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { AttrValue, FLOAT, GraphBuilder, INT32, INT64, decodeModel, encodeModel } from '../../src/core/onnx/builder';
import { unfuseAttention } from '../../src/core/runtime/unfuse';

type Input = { name: string; dims: number[]; type?: 'float32' | 'int32' | 'int64'; values?: number[] };

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;

/**
 * Builds a graph of one com.microsoft node, runs it as is and written out; returns the largest difference.
 * `inputs`: graph inputs, or the name of one of `init` (weights), or '' for an absent optional input.
 */
async function differential(op: string, inputs: (Input | string)[], attrs: Record<string, AttrValue>, outputs: number,
  init: Record<string, { dims: number[]; values?: number[] }> = {}): Promise<number> {
  const b = new GraphBuilder('fused');
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of inputs) {
    if (typeof i === 'string') continue;
    const type = i.type ?? 'float32';
    b.input(i.name, type === 'int32' ? INT32 : type === 'int64' ? INT64 : FLOAT, i.dims);
    const size = i.dims.reduce((x, y) => x * y, 1);
    const values = i.values ?? Array.from({ length: size }, random);
    feeds[i.name] = type === 'float32' ? new ort.Tensor('float32', Float32Array.from(values), i.dims)
      : type === 'int32' ? new ort.Tensor('int32', Int32Array.from(values), i.dims)
      : new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), i.dims);
  }
  for (const [name, t] of Object.entries(init)) {
    b.init(name, Float32Array.from(t.values ?? Array.from({ length: t.dims.reduce((x, y) => x * y, 1) }, random)), t.dims);
  }
  const outs = Array.from({ length: outputs }, (_, i) => `out${i}`);
  b.node(op, inputs.map((i) => (typeof i === 'string' ? i : i.name)), attrs, outs, 'com.microsoft');
  for (const o of outs) b.output(o, FLOAT, []);
  const fusedBytes = b.serialize(14);
  const model = decodeModel(fusedBytes);
  const result = unfuseAttention(model);
  if (op !== 'RotaryEmbedding') assert.deepEqual(result, { rewritten: 1 }, JSON.stringify(result));
  assert.ok(!model.graph!.node!.some((n) => n.domain === 'com.microsoft'), 'nothing fused is left');
  assert.ok(op === 'RotaryEmbedding' || model.graph!.node!.some((n) => n.opType === 'Softmax'));
  const run = async (bytes: Uint8Array) => (await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 })).run(feeds);
  const [fused, plain] = [await run(fusedBytes), await run(encodeModel(model))];
  let worst = 0;
  for (const o of outs) {
    assert.deepEqual(plain[o].dims, fused[o].dims, `${o} shape`);
    (fused[o].data as Float32Array).forEach((v, i) => { worst = Math.max(worst, Math.abs(v - (plain[o].data as Float32Array)[i])); });
  }
  return worst;
}

const cases: [string, () => Promise<number>][] = [
  ['Attention: past, bias, a padded key, causal', () => differential('Attention',
    [{ name: 'x', dims: [1, 5, 32] }, 'w', 'bias', { name: 'mask', dims: [1, 8], type: 'int32', values: [1, 0, 1, 1, 1, 1, 1, 1] },
      { name: 'past', dims: [2, 1, 4, 3, 8] }], { num_heads: 4, unidirectional: 1 }, 2,
    { w: { dims: [32, 96] }, bias: { dims: [96] } })],
  // (onnxruntime's CPU kernel crashes without the optional bias.)
  ['Attention: no past, bidirectional, custom scale, batch of 2', () => differential('Attention',
    [{ name: 'x', dims: [2, 4, 32] }, 'w', 'bias'], { num_heads: 2, scale: 0.3 }, 1, { w: { dims: [32, 96] }, bias: { dims: [96] } })],
  ['MultiHeadAttention: packed bias, key padding mask, past, causal', () => differential('MultiHeadAttention',
    [{ name: 'q', dims: [1, 5, 32] }, { name: 'k', dims: [1, 5, 32] }, { name: 'v', dims: [1, 5, 32] }, 'bias',
      { name: 'mask', dims: [1, 8], type: 'int32', values: [0, 1, 1, 1, 1, 1, 1, 1] }, '',
      { name: 'past_key', dims: [1, 4, 3, 8] }, { name: 'past_value', dims: [1, 4, 3, 8] }],
    { num_heads: 4, unidirectional: 1 }, 3, { bias: { dims: [96] } })],
  ['MultiHeadAttention: attention_bias, no past, scale 0 (the default)', () => differential('MultiHeadAttention',
    [{ name: 'q', dims: [1, 6, 32] }, { name: 'k', dims: [1, 6, 32] }, { name: 'v', dims: [1, 6, 32] }, '',
      '', { name: 'attention_bias', dims: [1, 4, 6, 6] }], { num_heads: 4, scale: { float: 0 } }, 1)],
  ['GroupQueryAttention: rotary inside, past, 4 query heads on 2', () => differential('GroupQueryAttention',
    [{ name: 'q', dims: [1, 5, 64] }, { name: 'k', dims: [1, 5, 32] }, { name: 'v', dims: [1, 5, 32] },
      { name: 'past_key', dims: [1, 2, 3, 16] }, { name: 'past_value', dims: [1, 2, 3, 16] },
      { name: 'seqlens_k', dims: [1], type: 'int32', values: [7] }, { name: 'total', dims: [], type: 'int32', values: [8] }, 'cos', 'sin'],
    { num_heads: 4, kv_num_heads: 2, do_rotary: 1 }, 3, rotaryCaches(8))],
  ['GroupQueryAttention: packed QKV, interleaved rotary, no past', () => differential('GroupQueryAttention',
    [{ name: 'qkv', dims: [1, 6, 128] }, '', '', '', '',
      { name: 'seqlens_k', dims: [1], type: 'int32', values: [5] }, { name: 'total', dims: [], type: 'int32', values: [6] }, 'cos', 'sin'],
    { num_heads: 4, kv_num_heads: 2, do_rotary: 1, rotary_interleaved: 1 }, 1, rotaryCaches(8))],
  ['GroupQueryAttention: no rotary, custom scale, one key/value head', () => differential('GroupQueryAttention',
    [{ name: 'q', dims: [1, 4, 64] }, { name: 'k', dims: [1, 4, 16] }, { name: 'v', dims: [1, 4, 16] }, '', '',
      { name: 'seqlens_k', dims: [1], type: 'int32', values: [3] }, { name: 'total', dims: [], type: 'int32', values: [4] }],
    { num_heads: 4, kv_num_heads: 1, scale: 0.2 }, 1)],
  ['GroupQueryAttention: sliding window (local_window_size), past', () => differential('GroupQueryAttention',
    [{ name: 'q', dims: [1, 6, 64] }, { name: 'k', dims: [1, 6, 32] }, { name: 'v', dims: [1, 6, 32] },
      { name: 'past_key', dims: [1, 2, 4, 16] }, { name: 'past_value', dims: [1, 2, 4, 16] },
      { name: 'seqlens_k', dims: [1], type: 'int32', values: [9] }, { name: 'total', dims: [], type: 'int32', values: [10] }],
    { num_heads: 4, kv_num_heads: 2, local_window_size: 3 }, 3)],
  ['GroupQueryAttention: softcap', () => differential('GroupQueryAttention',
    [{ name: 'q', dims: [1, 5, 64] }, { name: 'k', dims: [1, 5, 32] }, { name: 'v', dims: [1, 5, 32] }, '', '',
      { name: 'seqlens_k', dims: [1], type: 'int32', values: [4] }, { name: 'total', dims: [], type: 'int32', values: [5] }],
    { num_heads: 4, kv_num_heads: 2, softcap: 0.5, scale: 2.5 }, 1)],
  ['RotaryEmbedding: (B, S, hidden), positions after a past', () => differential('RotaryEmbedding',
    [{ name: 'x', dims: [1, 5, 64] }, { name: 'pos', dims: [1, 5], type: 'int64', values: [3, 4, 5, 6, 7] }, 'cos', 'sin'],
    { num_heads: 4 }, 1, rotaryCaches(8))],
  ['RotaryEmbedding: (B, N, S, H), interleaved', () => differential('RotaryEmbedding',
    [{ name: 'x', dims: [2, 2, 3, 16] }, { name: 'pos', dims: [2, 3], type: 'int64', values: [0, 1, 2, 5, 6, 7] }, 'cos', 'sin'],
    { interleaved: 1 }, 1, rotaryCaches(8))],
  ['RotaryEmbedding: part of each head rotated (rotary_embedding_dim)', () => differential('RotaryEmbedding',
    [{ name: 'x', dims: [1, 4, 64] }, { name: 'pos', dims: [1, 4], type: 'int64', values: [0, 1, 2, 3] }, 'cos', 'sin'],
    { num_heads: 4, rotary_embedding_dim: 8 }, 1, rotaryCaches(4))],
];

/** cos/sin caches of 64 positions, `half` angles each. */
function rotaryCaches(half: number): Record<string, { dims: number[]; values: number[] }> {
  const angle = (p: number, i: number) => p / 10000 ** (i / half);
  const rows = (f: (a: number) => number) => Array.from({ length: 64 * half }, (_, j) => f(angle(Math.floor(j / half), j % half)));
  return { cos: { dims: [64, half], values: rows(Math.cos) }, sin: { dims: [64, half], values: rows(Math.sin) } };
}

for (const [name, run] of cases) {
  test(`${name}: the rewrite computes what onnxruntime's kernel computes`, async () => {
    const worst = await run();
    assert.ok(worst <= 2e-5, `differs by ${worst}`);
  });
}
