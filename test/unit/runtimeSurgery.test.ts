// Attention for models Token Lens did not write: graph surgery exposes each attention Softmax.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { GraphBuilder, FLOAT, INT64 } from '../../src/core/onnx/builder';
import { llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';
import { sharpen } from '../reference/ortRun';
import { attentionWeights } from './attentionOf';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-surgery-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TEXT = 'the quick brown fox jumps over the lazy dog';
const chars = charVocabulary(TEXT);
const config = llamaConfig({ n_embd: 32, d_ff: 48, n_layer: 3, n_head: 4, n_kv_head: 2, vocab_size: chars.length + 1,
  block_size: 64 });

test('surgery on a model written without attention outputs gives the attention of the same model written with them', async () => {
  const weights = sharpen(randomWeights(config, 3), 5);
  const tokenizer = charTokenizerFiles(chars);
  await writeModelFolder(path.join(tmp, 'with'), { config, weights, tokenizer, attentionOutputs: true });
  await writeModelFolder(path.join(tmp, 'without'), { config, weights, tokenizer, attentionOutputs: false });
  // A folder that did not come from Token Lens: no token_lens block in its config.
  const cfgFile = path.join(tmp, 'without', 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  delete cfg.token_lens;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));

  const cacheDir = path.join(tmp, 'cache');
  const withAtt = await ModelSession.load(path.join(tmp, 'with'), { cacheDir });
  const operated = await ModelSession.load(path.join(tmp, 'without'), { cacheDir });
  try {
    assert.equal(operated.info.attention, 'available');
    const a = await withAtt.analyze(TEXT, { attention: true });
    const b = await operated.analyze(TEXT, { attention: true });
    assert.deepEqual(b.tokens.map((t) => t.loss), a.tokens.map((t) => t.loss));
    assert.equal(b.attention!.layers, 3);
    for (let l = 0; l < 3; l++) {
      const [got, want] = [await b.attentionLayer(l), await a.attentionLayer(l)];
      for (let h = 0; h < 4; h++) assert.deepEqual(got.heads[h], want.heads[h]);
    }
    // Once per model file: a second load reuses the prepared copy.
    const prepared = fs.readdirSync(path.join(cacheDir, 'prepared'));
    assert.equal(prepared.length, 1);
    const stamp = fs.statSync(path.join(cacheDir, 'prepared', prepared[0], 'onnx', 'model.onnx')).mtimeMs;
    const again = await ModelSession.load(path.join(tmp, 'without'), { cacheDir });
    await again.dispose();
    assert.equal(fs.statSync(path.join(cacheDir, 'prepared', prepared[0], 'onnx', 'model.onnx')).mtimeMs, stamp);
  } finally {
    await withAtt.dispose();
    await operated.dispose();
  }
});

test('an export with fused attention: the op is written out and its attention shown (runtimeHubFused.test.ts: causal layouts)', async () => {
  // A small decoder whose attention is one com.microsoft MultiHeadAttention op (bidirectional): no Softmax to
  // expose until the op is written out as plain operations.
  const dir = path.join(tmp, 'fused');
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const V = chars.length + 1;
  const C = 16;
  const g = new GraphBuilder('fused');
  g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  g.input('attention_mask', INT64, ['batch_size', 'sequence_length']);
  const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
  const x = g.op('Gather', [g.init('wte', rand(V * C, 1), [V, C]), 'input_ids']);
  const att = g.node('MultiHeadAttention', [x, x, x], { num_heads: 2 }, 1, 'com.microsoft')[0];
  g.op('MatMul', [att, g.init('head', rand(C * V, 2), [C, V])], {}, 'logits');
  g.output('logits', FLOAT, ['batch_size', 'sequence_length', V]);
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), g.serialize());
  const tok = charTokenizerFiles(chars);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt2', n_embd: C, n_head: 2, n_layer: 1, n_positions: 64, vocab_size: V,
  }));
  const session = await ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') });
  try {
    assert.equal(session.info.attention, 'available', session.info.attentionNote);
    const a = await session.analyze(TEXT, { attention: true });
    assert.equal(a.attention!.layers, 1);
    assert.equal(a.attention!.heads, 2);
    const T = a.tokens.length;
    for (const head of (await attentionWeights(a))[0]) {
      for (let q = 0; q < T; q++) {
        const row = head.subarray(q * T, (q + 1) * T);
        assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
        assert.ok(row[T - 1] > 0, 'bidirectional: every query sees the last key');
      }
    }
    assert.ok(a.tokens.slice(1).every((t) => t.loss !== null && Number.isFinite(t.loss)));
  } finally {
    await session.dispose();
  }
});

test('corrupt models: a clear message naming the broken file', async () => {
  const cacheDir = path.join(tmp, 'cache-corrupt');
  const good = path.join(tmp, 'with');
  const brokenJson = path.join(tmp, 'broken-json');
  fs.cpSync(good, brokenJson, { recursive: true });
  fs.writeFileSync(path.join(brokenJson, 'config.json'), '{ not json');
  await assert.rejects(ModelSession.load(brokenJson, { cacheDir }),
    (e: Error) => e instanceof ModelLoadError && e.message.includes('config.json') && /not a valid JSON/.test(e.message));

  const truncated = path.join(tmp, 'truncated');
  fs.cpSync(good, truncated, { recursive: true });
  const onnxFile = path.join(truncated, 'onnx', 'model.onnx');
  fs.writeFileSync(onnxFile, fs.readFileSync(onnxFile).subarray(0, 4000));
  await assert.rejects(ModelSession.load(truncated, { cacheDir }),
    (e: Error) => e instanceof ModelLoadError && e.message.includes(truncated));
  // The same truncated file in a folder that needs surgery first.
  const cfg = JSON.parse(fs.readFileSync(path.join(truncated, 'config.json'), 'utf8'));
  delete cfg.token_lens;
  fs.writeFileSync(path.join(truncated, 'config.json'), JSON.stringify(cfg));
  await assert.rejects(ModelSession.load(truncated, { cacheDir }),
    (e: Error) => e instanceof ModelLoadError && /Could not read the model file/.test(e.message));
});
