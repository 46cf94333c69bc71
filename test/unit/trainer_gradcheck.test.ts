// Every architecture option of the one decoder, trained through the autodiff tape: gradients of every
// parameter against central finite differences, in float64 and in float32 (the precision training
// runs in, whose LayerNorm is onnxruntime's fused kernel; its finite differences come from float64).
import { test } from 'node:test';
import type { DecoderConfig } from '../../src/core/models/config';
import { weightShapes } from '../../src/core/models/decoder';
import { gpt2Config, llamaConfig } from '../../src/core/models/presets';
import type { DType } from '../../src/core/trainer/autodiff';
import { buildModelGraph } from '../../src/core/trainer/model';
import { Rng } from '../../src/core/trainer/rng';
import { checkTape } from './autodiff_gradcheck';

const sizes = { n_layer: 2, n_head: 2, n_embd: 8, block_size: 4, vocab_size: 7 };
const noBias = { qkv: false, o: false, mlp: false, norm: false };

const configs: [string, DecoderConfig][] = [
  ['GPT-2: learned positions, LayerNorm with biases, GELU-tanh, tied head', gpt2Config(sizes)],
  ['nanoGPT: no biases, exact GELU, own head', gpt2Config({ ...sizes, bias: noBias, gelu: 'exact', tied_head: false })],
  ['GPT-NeoX: parallel residual, partial rotate-half RoPE, exact GELU', gpt2Config({ ...sizes, arch: 'gpt_neox',
    position: 'rope', rope_layout: 'half', rotary_dim: 2, parallel_residual: true, gelu: 'exact', tied_head: false })],
  ['llama2.c: interleaved RoPE, GQA, SwiGLU, own head', llamaConfig({ ...sizes, n_head: 4, n_kv_head: 2, d_ff: 12,
    tied_head: false })],
  ['Qwen2 / Llama 3: rotate-half RoPE, q/k/v biases, llama3 rope scaling, GQA, head_dim of its own', llamaConfig({ ...sizes,
    n_head: 2, n_kv_head: 1, head_dim: 6, d_ff: 12, arch: 'qwen2', rope_layout: 'half', bias: { ...noBias, qkv: true }, rope_theta: 500,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } })],
  ['Mistral / Llama with biases: sliding window of 2, attention and MLP biases, linear rope scaling', llamaConfig({ ...sizes,
    arch: 'mistral', n_head: 2, n_kv_head: 1, d_ff: 12, rope_layout: 'half', sliding_window: 2,
    bias: { qkv: true, o: true, mlp: true, norm: false }, rope_scaling: { rope_type: 'linear', factor: 2 } })],
];

function batch(B: number, T: number, V: number, seed: number) {
  const rng = new Rng(seed);
  return { idx: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(V))),
    targets: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(V))) };
}

async function check(config: DecoderConfig, dtype: DType): Promise<number> {
  const B = 2, T = 4;
  const graph = (d: DType) => buildModelGraph({ config, batch: B, block: T, grads: true, dtype: d }).tape;
  const f64 = graph('float64');
  const rng = new Rng(7);
  const weights = new Map<string, Float64Array>();
  for (const [name, shape] of weightShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    // Large enough weights that every path carries a gradient well above the finite-difference noise.
    weights.set(name, Float64Array.from({ length: n }, () => (shape.length === 1 ? 1 + 0.3 * rng.normal() : 0.5 * rng.normal())));
  }
  const data = batch(B, T, config.vocab_size, 3);
  return dtype === 'float64'
    ? checkTape(f64, weights, data, 6, 1e-6)
    // float32 gradients were seen within 1e-6 of the float64 differences; a wrong formula is off by far more.
    : checkTape(f64, weights, data, 6, 1e-5, undefined, graph('float32'));
}

for (const [label, config] of configs) {
  for (const dtype of ['float64', 'float32'] as const) {
    test(`${label}: every parameter's ${dtype} gradient matches finite differences`, async () => {
      await check(config, dtype);
    });
  }
}
