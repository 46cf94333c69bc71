// Fine-tuning the real stories260K model: one sentence teaches it a new name, and the exported model
// computes the same logits as the trainer's graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { importLlama2c, readLlama2cCheckpoint } from '../../src/core/importers/llama2c';
import { Trainer } from '../../src/core/trainer/trainer';
import { readLlama2cTokenizer, llama2cTokenizerFiles } from '../../src/core/tokenizers/llama2c';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import { writeModelFolder, MODEL_FILE, readModelFolderConfig, readWeightsFromOnnx } from '../../src/core/models/folder';
import type { DecoderConfig, Weights } from '../../src/core/models/config';
import { randomWeights } from '../../src/core/models/random';
import { buildModelGraph } from '../../src/core/trainer/model';
import { presetConfig } from '../../src/core/trainer/presets';
import { encodeChars } from '../../src/core/trainer/data';
import { GraphSession } from '../../src/core/trainer/graphSession';
import { TrainStep } from '../../src/core/trainer/step';
import { adamwDefaults } from '../../src/core/trainer/optim';

const MODELS = join(__dirname, '../../vendor/stories260K');
const TEXT = 'Once upon a time, there was a little girl named Zoo.';

test('fine-tuning stories260K on one sentence flips "...girl named" from " Lily" to " Zoo", and exports it', async () => {
  const { config, weights } = readLlama2cCheckpoint(readFileSync(join(MODELS, 'stories260K.bin')));
  const tokenizer = llama2cTokenizerFiles(readLlama2cTokenizer(readFileSync(join(MODELS, 'tok512.bin'))));
  const tok = loadTokenizer(tokenizer);
  const ids: number[] = tok.encode(TEXT);
  const named = ids.findIndex((_, i) => tok.decode(ids.slice(0, i + 1)).endsWith('named'));
  const zooStart = ids[named + 1];
  assert.equal(tok.decode(ids.slice(named + 1, named + 4)).trim().startsWith('Zoo'), true);
  const lily = (tok.encode(' Lily', { add_special_tokens: false }) as number[]).filter((i) => tok.decode([i]).trim() !== '')[0];

  const T = ids.length - 1, V = config.vocab_size;
  const idx = BigInt64Array.from(ids.slice(0, -1).map(BigInt));
  const targets = BigInt64Array.from(ids.slice(1).map(BigInt));
  const params = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v.data)]));
  const evalSession = await GraphSession.create(buildModelGraph({ config, batch: 1, block: T, grads: false, logits: true }).tape, 2);
  const logits = async () => (await evalSession.run(params, { idx, targets })).outputs.get('logits')! as Float32Array;
  const topAfterNamed = async () => argmax((await logits()).subarray(named * V, (named + 1) * V));

  assert.equal(await topAfterNamed(), lily, 'the pretrained model says Lily');
  const trainer = await TrainStep.create({ config, batch: 1, block: T, params, optim: adamwDefaults(1e-3), threads: 2 });
  let steps = 0;
  while ((await topAfterNamed()) !== zooStart) {
    assert.ok(++steps <= 30, 'flips within 30 steps');
    await trainer.step(idx, targets, 1e-3);
  }
  await trainer.dispose();

  // The exported folder runs the writer's own graph: its logits must equal the trainer's.
  const dir = mkdtempSync(join(tmpdir(), 'zoo-'));
  try {
    const trained: Weights = new Map([...params].map(([k, data]) => [k, { data, shape: weights.get(k)!.shape }]));
    await writeModelFolder(dir, { config, weights: trained, tokenizer, attentionOutputs: true });
    const exported = await exportedLogits(join(dir, MODEL_FILE), config, ids.slice(0, -1));
    const ours = await logits();
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - exported[i]));
    assert.ok(worst < 1e-4, `max |logit difference| ${worst}`);
    assert.equal(argmax(exported.subarray(named * V, (named + 1) * V)), zooStart);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await evalSession.dispose();
  }
});

test('a GPT-2 trained from scratch exports to a model whose logits equal the trainer\'s', async () => {
  const config = presetConfig('toy', 30);
  const w = randomWeights(config, 4);
  const params = new Map([...w].map(([k, v]) => [k, v.data]));
  const ids = Array.from({ length: 65 }, (_, i) => (i * 7) % 30);
  const idx = BigInt64Array.from(ids.slice(0, -1).map(BigInt)), targets = BigInt64Array.from(ids.slice(1).map(BigInt));
  const trainer = await TrainStep.create({ config, batch: 1, block: 64, params, optim: adamwDefaults(1e-2), threads: 2 });
  for (let i = 0; i < 5; i++) await trainer.step(idx, targets, 1e-2);
  await trainer.dispose();
  const s = await GraphSession.create(buildModelGraph({ config, batch: 1, block: 64, grads: false, logits: true }).tape, 2);
  const ours = (await s.run(params, { idx, targets })).outputs.get('logits')!;
  await s.dispose();
  const dir = mkdtempSync(join(tmpdir(), 'gpt-'));
  try {
    await writeModelFolder(dir, { config, weights: w, tokenizer: encodeChars('abcdefghijklmnopqrstuvwxyz.,!?').tokenizer, attentionOutputs: true });
    const exported = await exportedLogits(join(dir, MODEL_FILE), config, ids.slice(0, -1));
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - exported[i]));
    assert.ok(worst < 1e-4, `max |logit difference| ${worst}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LoRA fine-tuning an imported model folder teaches it the name too; only the adapted weights change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zoo-lora-'));
  try {
    await importLlama2c({ checkpoint: join(MODELS, 'stories260K.bin'), tokenizer: join(MODELS, 'tok512.bin'), out: join(dir, 'base') });
    writeFileSync(join(dir, 'zoo.txt'), TEXT);
    const t = await Trainer.create({ file: join(dir, 'zoo.txt'), from: join(dir, 'base'), lora: 4, steps: 30, lr: 1e-2,
      out: join(dir, 'tuned'), batch: 2, threads: 2 });
    const r = await t.run();
    await t.dispose();
    assert.equal(r.status, 'done');
    const config = readModelFolderConfig(join(dir, 'tuned'));
    const base = readWeightsFromOnnx(readFileSync(join(dir, 'base', MODEL_FILE)), config);
    const tuned = readWeightsFromOnnx(readFileSync(join(dir, 'tuned', MODEL_FILE)), config);
    for (const [k, v] of base) {
      const same = v.data.every((x, i) => x === tuned.get(k)!.data[i]);
      assert.equal(same, !/attn\.[qkvo]\.weight$/.test(k), `${k} ${same ? 'unchanged' : 'changed'}`);
    }
    const tok = loadTokenizer(llama2cTokenizerFiles(readLlama2cTokenizer(readFileSync(join(MODELS, 'tok512.bin')))));
    const ids: number[] = tok.encode(TEXT);
    const named = ids.findIndex((_, i) => tok.decode(ids.slice(0, i + 1)).endsWith('named'));
    const logits = await exportedLogits(join(dir, 'tuned', MODEL_FILE), config, ids.slice(0, named + 1));
    assert.equal(argmax(logits.subarray(named * config.vocab_size)), ids[named + 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

async function exportedLogits(file: string, c: DecoderConfig, ids: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const T = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  };
  for (let i = 0; i < c.n_layer; i++) {
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.n_kv_head, 0, c.head_dim]);
  }
  const out = await s.run(feeds, ['logits']);
  await s.release();
  return out.logits.data as Float32Array;
}
