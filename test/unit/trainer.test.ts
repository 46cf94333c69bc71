// The training loop and its data: refusing non-text, deterministic batches, checkpoints that resume
// exactly, stop/pause/resume, divergence and memory limits, export, and the CLI's JSON lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTextFile, encodeChars, getBatch, splitTokens, DataError } from '../../src/core/trainer/data';
import { Rng } from '../../src/core/trainer/rng';
import { Trainer } from '../../src/core/trainer/trainer';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../src/core/trainer/checkpoint';
import { MODEL_FILE, readModelFolderConfig, readModelFolderSpecialTokens, readWeightsFromOnnx, writeModelFolder } from '../../src/core/models/folder';
import { llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { runTrain } from '../../src/cli/train';
import { Worker } from 'node:worker_threads';

const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
const TEXT = 'To be, or not to be, that is the question:\nWhether \'tis nobler in the mind to suffer\n'.repeat(12);
const textFile = join(dir, 'hamlet.txt');
writeFileSync(textFile, TEXT);
const small = { preset: 'toy', batch: 2, block: 16, threads: 1, evalBatches: 1 } as const;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('data: binary, invalid UTF-8 and empty files are refused with clear messages', () => {
  const write = (name: string, data: Uint8Array | string) => { const p = join(dir, name); writeFileSync(p, data); return p; };
  assert.throws(() => readTextFile(write('bin', Uint8Array.from([72, 105, 0, 1, 2]))), /binary file.*NUL/);
  assert.throws(() => readTextFile(write('latin1', Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))), /not valid UTF-8/);
  assert.throws(() => readTextFile(write('empty', '')), /is empty/);
  assert.throws(() => readTextFile(join(dir, 'missing.txt')), /does not exist/);
  assert.throws(() => readTextFile(dir), /folder/);
});

test('data: large files are sampled on character boundaries, with a note', () => {
  const p = join(dir, 'big.txt');
  writeFileSync(p, 'héllo wörld ✓ '.repeat(5000));
  const f = readTextFile(p, 4096);
  assert.match(f.note!, /evenly spaced samples/);
  assert.ok(f.text.length > 1000 && f.text.length < 5000);
  assert.ok(!f.text.includes('\ufffd'));
});

test('data: character vocabulary, split and seeded batches', () => {
  const enc = encodeChars('abca');
  assert.deepEqual(Array.from(enc.ids), [0, 1, 2, 0]);
  assert.equal(enc.vocabSize, 4);
  const ids = encodeChars(TEXT).ids;
  const s = splitTokens(ids, 16);
  assert.equal(s.train.length + s.val.length, ids.length);
  const a = getBatch(s.train, 3, 16, new Rng(5)), b = getBatch(s.train, 3, 16, new Rng(5));
  assert.deepEqual(a, b);
  for (let i = 0; i < 15; i++) assert.equal(a.targets[i], a.idx[i + 1], 'targets are the inputs shifted by one');
  assert.throws(() => getBatch(ids.subarray(0, 5), 1, 16, new Rng(1)), DataError);
});

test('training from scratch checkpoints, and resumes exactly where it stopped', async () => {
  const straight = await Trainer.create({ ...small, file: textFile, out: join(dir, 'a'), steps: 6, seed: 3 });
  const r = await straight.run();
  await straight.dispose();
  assert.equal(r.status, 'done');
  const halfway = await Trainer.create({ ...small, file: textFile, out: join(dir, 'b'), steps: 6, seed: 3 });
  assert.equal((await halfway.run((p) => { if (p.step === 3) halfway.stop(); })).status, 'stopped');
  await halfway.dispose();
  const resumed = await Trainer.create({ ...small, file: textFile, out: join(dir, 'b'), steps: 6, seed: 3, resume: true });
  assert.equal(resumed.currentStep, 3);
  const r2 = await resumed.run();
  await resumed.dispose();
  assert.equal(r2.step, 6);
  const wa = (await loadCheckpoint(join(dir, 'a', CHECKPOINT_FILE))).params;
  const wb = (await loadCheckpoint(join(dir, 'b', CHECKPOINT_FILE))).params;
  for (const [k, v] of wa) assert.deepEqual(wb.get(k), v, `${k} after 3 + 3 steps equals 6 steps`);
  // The exported folder holds the trained weights.
  const cfg = readModelFolderConfig(join(dir, 'a'));
  const exported = readWeightsFromOnnx(readFileSync(join(dir, 'a', MODEL_FILE)), cfg);
  assert.deepEqual(exported.get('tok_emb')!.data, wa.get('tok_emb'));
});

test('stop, pause and resume control a running loop; a stopped run still exports', async () => {
  const t = await Trainer.create({ ...small, file: textFile, out: join(dir, 'c'), steps: 1000 });
  let pausedAt = -1;
  const result = await t.run((p) => {
    if (p.step === 2) {
      t.pause();
      pausedAt = p.step;
      setTimeout(() => { assert.equal(t.currentStep, pausedAt, 'no steps while paused'); t.resume(); }, 150);
    }
    if (p.step === 4) t.stop();
  });
  await t.dispose();
  assert.equal(result.status, 'stopped');
  assert.equal(result.step, 4);
  assert.ok(result.exported && existsSync(join(dir, 'c', MODEL_FILE)));
});

test('a diverging run stops with a message instead of writing NaN weights', async () => {
  const t = await Trainer.create({ ...small, file: textFile, out: join(dir, 'd'), steps: 50, optimizer: 'sgd', lr: 1e12, clip: 0 });
  const r = await t.run();
  await t.dispose();
  assert.equal(r.status, 'diverged');
  assert.match(r.message, /lower learning rate/);
  assert.equal(r.exported, false);
});

test('a memory cap too small for the model is refused before training', async () => {
  await assert.rejects(Trainer.create({ ...small, file: textFile, out: join(dir, 'e'), steps: 5, maxMemoryMB: 64 }), /MB cap/);
});

test('CLI: --json prints one line per step; --steps 0 exports the starting weights unchanged', async () => {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
    // The test runner shares stdout: keep only this command's lines.
  (process.stdout as unknown as { write: (s: unknown) => boolean }).write = (s: unknown) =>
    typeof s === 'string' && s.startsWith('{"step"') ? (lines.push(s), true) : write(s as string);
  try {
    assert.equal(await runTrain(['--file', textFile, '--out', join(dir, 'f'), '--steps', '3', '--batch', '2', '--block', '16', '--json']), 0);
  } finally {
    (process.stdout as unknown as { write: typeof write }).write = write;
  }
  const rows = lines.join('').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.step), [1, 2, 3]);
  for (const r of rows) assert.deepEqual(Object.keys(r), ['step', 'loss', 'valLoss', 'tokensPerSec']);

  const before = readWeightsFromOnnx(readFileSync(join(dir, 'f', MODEL_FILE)), readModelFolderConfig(join(dir, 'f')));
  assert.equal(await runTrain(['--file', textFile, '--from', join(dir, 'f'), '--out', join(dir, 'g'), '--steps', '0']), 0);
  const after = readWeightsFromOnnx(readFileSync(join(dir, 'g', MODEL_FILE)), readModelFolderConfig(join(dir, 'g')));
  for (const [k, v] of before) assert.deepEqual(after.get(k)!.data, v.data, k);
});

// The worker from source (the product runs the bundled dist/trainerWorker.js).
const sourceWorker = () => new Worker(
  `require('tsx/cjs'); require(${JSON.stringify(join(__dirname, '../../src/core/trainer/worker.ts'))});`, { eval: true });

test('TrainerClient runs a job in a worker thread: progress, pause, resume, stop', async () => {
  const { TrainerClient } = await import('../../src/core/trainer/client');
  const steps: number[] = [];
  let paused = false, resumed = false, stopping = false, stepsWhilePaused = 0;
  // Messages reach the worker between steps, so each command waits for the previous one to take effect.
  const client: InstanceType<typeof TrainerClient> = new TrainerClient(
    { ...small, file: textFile, out: join(dir, 'w'), steps: 1000 },
    {
      onProgress: (p) => {
        steps.push(p.step);
        if (paused && !resumed) stepsWhilePaused++;
        if (p.step === 2) client.pause();
        if (resumed && !stopping) { stopping = true; client.stop(); }
      },
      onPaused: () => { paused = true; setTimeout(() => client.resume(), 100); },
      onResumed: () => { resumed = true; },
    },
    sourceWorker);
  const result = await client.result;
  assert.equal(result.status, 'stopped');
  assert.ok(paused && resumed);
  assert.equal(stepsWhilePaused, 0, 'no step runs while paused');
  assert.deepEqual(steps, steps.map((_, i) => i + 1), 'steps arrive in order, none skipped');
  assert.ok(steps.length < 1000, 'stopped early');
  assert.ok(existsSync(join(dir, 'w', MODEL_FILE)));
});

test('TrainerClient reports a job that cannot start as an error', async () => {
  const { TrainerClient } = await import('../../src/core/trainer/client');
  const client = new TrainerClient({ file: join(dir, 'nope.txt'), out: join(dir, 'x'), steps: 1 }, {},
    sourceWorker);
  await assert.rejects(client.result, /does not exist/);
});

test('the CLI warns when the loss ends far above where it started (AdamW at lr 1)', async () => {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  (process.stdout as unknown as { write: (s: unknown) => boolean }).write = (s: unknown) => (out.push(String(s)), true);
  try {
    assert.equal(await runTrain(['--file', textFile, '--out', join(dir, 'blow-up'), '--steps', '40', '--lr', '1', '--threads', '1']), 0);
  } finally {
    (process.stdout as unknown as { write: typeof write }).write = write;
  }
  const text = out.join('');
  assert.match(text, /Trained 40 steps/);
  assert.match(text, /\nWarning: The loss ended at [\d.]+, far above where it started \([\d.]+\): training blew up\. Try a lower learning rate \(now 1\)\.\n/, text);
});

test('fine-tuning a folder keeps its special tokens and trains its architecture (rotate-half RoPE, biases, GQA)', async () => {
  const enc = encodeChars(TEXT);
  const config = llamaConfig({ arch: 'qwen2', n_layer: 1, n_head: 4, n_kv_head: 2, n_embd: 16, d_ff: 32, block_size: 32,
    vocab_size: enc.vocabSize, rope_layout: 'half', bias: { qkv: true, o: false, mlp: false, norm: false } });
  const base = join(dir, 'qwen-base');
  await writeModelFolder(base, { config, weights: randomWeights(config, 1), tokenizer: enc.tokenizer, specialTokens: { bos: 3, eos: [4, 5] } });
  const t = await Trainer.create({ ...small, preset: undefined, file: textFile, from: base, out: join(dir, 'qwen-tuned'), steps: 3 });
  const r = await t.run();
  await t.dispose();
  assert.equal(r.status, 'done');
  assert.deepEqual(readModelFolderSpecialTokens(join(dir, 'qwen-tuned')), { bos: 3, eos: [4, 5] });
  assert.deepEqual(readModelFolderConfig(join(dir, 'qwen-tuned')), config);
  const before = readWeightsFromOnnx(readFileSync(join(base, MODEL_FILE)), config).get('layers.0.attn.q.bias')!.data;
  const after = readWeightsFromOnnx(readFileSync(join(dir, 'qwen-tuned', MODEL_FILE)), config).get('layers.0.attn.q.bias')!.data;
  assert.notDeepEqual(after, before, 'the q bias trained');
});

test('a checkpoint from an older Token Lens is refused with a message, not misread', async () => {
  const out = join(dir, 'old-ckpt');
  mkdirSync(out, { recursive: true });
  const header = Buffer.from(JSON.stringify({ meta: { version: 1, config: { arch: 'gpt2', n_layer: 2 } }, entries: [] }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length, 0);
  writeFileSync(join(out, CHECKPOINT_FILE), Buffer.concat([len, header]));
  await assert.rejects(Trainer.create({ ...small, file: textFile, out, steps: 1, resume: true }),
    /Cannot resume: .* was written by an older Token Lens whose model config this version cannot read: start a new run/);
});
