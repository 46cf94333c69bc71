// Every architecture option of the one decoder, exported and loaded the way a user loads a model
// (writeModelFolder, then ModelSession): logits, per-token losses and every attention weight against the
// independent reference forward, and the KV-cache path against the full pass. The training graph built
// from the same definition computes the same logits.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { DecoderConfig } from '../../src/core/models/config';
import { writeModelFolder } from '../../src/core/models/folder';
import { gpt2Config, llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { buildModelGraph } from '../../src/core/trainer/model';
import { ModelSession } from '../../src/core/runtime/session';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { referenceForward, referenceLosses } from '../reference/forward';
import { maxAbsDiff, run, session, sharpen } from '../reference/ortRun';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-decoder-options-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TEXT = 'the quick brown fox jumps over the lazy dog';
const chars = charVocabulary(TEXT);
const vocab = chars.length + 1;
const sizes = { n_layer: 2, n_head: 4, n_embd: 32, block_size: 64, vocab_size: vocab };
const noBias = { qkv: false, o: false, mlp: false, norm: false };

const configs: [string, DecoderConfig][] = [
  ['GPT-2', gpt2Config(sizes)],
  // nanoGPT pads its vocabulary to a multiple of 64 (50304): the padding stays in the softmax.
  ['nanoGPT: padded vocabulary, no biases, exact GELU', gpt2Config({ ...sizes, vocab_size: 64, bias: noBias, gelu: 'exact' })],
  ['GPT-NeoX (Pythia): parallel residual, 25% rotate-half RoPE, exact GELU, own padded head', gpt2Config({ ...sizes,
    arch: 'gpt_neox', vocab_size: 50, position: 'rope', rope_layout: 'half', rotary_dim: 2, parallel_residual: true,
    gelu: 'exact', tied_head: false })],
  ['llama2.c: interleaved RoPE, GQA', llamaConfig({ ...sizes, n_kv_head: 2, d_ff: 48 })],
  ['Qwen2: rotate-half RoPE, q/k/v biases, GQA to one key/value head, own head', llamaConfig({ ...sizes, arch: 'qwen2',
    n_kv_head: 1, d_ff: 48, rope_layout: 'half', rope_theta: 1e6, bias: { ...noBias, qkv: true }, tied_head: false })],
  ['Llama 3: rotate-half RoPE with llama3 rope scaling, GQA', llamaConfig({ ...sizes, n_kv_head: 2, d_ff: 48,
    rope_layout: 'half', rope_theta: 500000,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 256 } })],
  // A window of 5 over texts of 9 to 43 tokens: most keys are out of reach, in the cache too.
  ['Mistral: head_dim apart from n_embd / n_head, sliding window', llamaConfig({ ...sizes, arch: 'mistral', n_kv_head: 2,
    head_dim: 16, d_ff: 48, rope_layout: 'half', sliding_window: 5 })],
  ['Llama with attention_bias, mlp_bias and linear RoPE scaling', llamaConfig({ ...sizes, n_kv_head: 2, d_ff: 48,
    rope_layout: 'half', bias: { qkv: true, o: true, mlp: true, norm: false }, rope_scaling: { rope_type: 'linear', factor: 4 } })],
];

configs.forEach(([label, config], n) => {
  test(`${label}: ModelSession's logits, losses and attention equal the reference; the KV cache equals the full pass`, async () => {
    const dir = path.join(tmp, `model-${n}`);
    const weights = sharpen(randomWeights(config, 3 + n), 5 + n);
    await writeModelFolder(dir, { config, weights, tokenizer: charTokenizerFiles(chars), attentionOutputs: true });
    const s = await ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') });
    try {
      assert.equal(s.info.arch, config.arch);
      assert.equal(s.info.contextLength, config.block_size);
      const a = await s.analyze(TEXT, { attention: true });
      const ids = a.tokens.map((t) => t.id);
      const ref = referenceForward(config, weights, ids);
      assert.equal(a.vocabSize, config.vocab_size, 'the whole output width, padding included');
      for (let t = 0; t < ids.length; t++) assert.ok(maxAbsDiff(await a.row(t), ref.logits[t]) < 1e-4, `logits at ${t}`);
      const losses = referenceLosses(ref, ids);
      assert.ok(Math.max(...losses) - Math.min(...losses) > 1, 'weights sharp enough for the comparison to mean something');
      losses.forEach((want, t) => assert.ok(Math.abs(a.tokens[t + 1].loss! - want) < 1e-4, `loss at ${t + 1}`));
      if (config.sliding_window !== null) {
        const unbanded = referenceForward({ ...config, sliding_window: null }, weights, ids).logits.at(-1)!;
        assert.ok(maxAbsDiff(unbanded, ref.logits.at(-1)!) > 0.1, 'the window changes this model within the text');
      }
      if (config.rope_scaling) {
        const unscaled = referenceForward({ ...config, rope_scaling: null }, weights, ids).logits.at(-1)!;
        assert.ok(maxAbsDiff(unscaled, ref.logits.at(-1)!) > 0.1, 'the scaling changes this model within the text');
      }

      const att = a.attention!;
      assert.equal(att.heads, config.n_head, 'one matrix per query head');
      assert.equal(att.layers, config.n_layer);
      for (let l = 0; l < config.n_layer; l++) {
        for (let h = 0; h < config.n_head; h++) {
          assert.ok(maxAbsDiff((await a.attentionLayer(l)).heads[h], ref.attention[l][h]) < 1e-4, `attention layer ${l} head ${h}`);
        }
      }
    } finally {
      await s.dispose();
    }

    const onnx = await session(fs.readFileSync(path.join(dir, 'onnx', 'model.onnx')));
    const ids = Array.from({ length: 12 }, (_, i) => (i * 7 + n) % vocab);
    const full = await run(onnx, config, [ids]);
    const first = await run(onnx, config, [ids.slice(0, 5)]);
    const second = await run(onnx, config, [ids.slice(5, 11)], { past: first.present });
    const third = await run(onnx, config, [ids.slice(11)], { past: second.present });
    const pieces = [first, second, third].flatMap((r) => Array.from(r.out.logits.data as Float32Array));
    assert.ok(maxAbsDiff(pieces, full.out.logits.data as Float32Array) < 1e-4, 'KV cache');
    assert.deepEqual(third.out['present.0.key'].dims, [1, config.n_kv_head, 12, config.head_dim]);
    assert.deepEqual(third.out['attentions.1'].dims, [1, config.n_head, 1, 12]);
  });
});

configs.forEach(([label, config], n) => {
  test(`${label}: the training graph's logits equal the reference`, async () => {
    const weights = sharpen(randomWeights(config, 3 + n), 5 + n);
    const rows = [0, 1].map((b) => Array.from({ length: 9 }, (_, i) => (i * 5 + b * 11 + n) % vocab));
    const g = buildModelGraph({ config, batch: 2, block: 9, grads: false, logits: true });
    const s = await GraphSession.create(g.tape, 1);
    const ids = BigInt64Array.from(rows.flat().map(BigInt));
    const out = (await s.run(new Map([...weights].map(([k, t]) => [k, t.data])), { idx: ids, targets: ids })).outputs;
    await s.dispose();
    const logits = out.get('logits')!;
    const want = rows.flatMap((r) => referenceForward(config, weights, r).logits.flatMap((l) => Array.from(l)));
    assert.ok(maxAbsDiff(logits, want) < 1e-4);
  });
});
