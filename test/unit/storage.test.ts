// Disk use: real prepared copies (made by loading models that need graph surgery) and real trained runs are
// listed with their sizes; old prepared copies are evicted by last use; deleting stays inside the storage.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { ModelSession } from '../../src/core/runtime/session';
import { PREPARED_LIMITS, evictPrepared, listStorage, removeStored } from '../../src/core/storage';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { Trainer } from '../../src/core/trainer/trainer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-storage-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cacheDir = path.join(tmp, 'cache');
const trainedDir = path.join(tmp, 'trained');

const TEXT = 'the quick brown fox jumps over the lazy dog';
const chars = charVocabulary(TEXT);
const config = llamaConfig({ n_embd: 32, d_ff: 48, n_layer: 2, n_head: 4, n_kv_head: 2, vocab_size: chars.length + 1,
  block_size: 64 });

/** A model folder from elsewhere (no token_lens block): loading it writes a prepared copy. */
async function foreignModel(name: string, seed: number): Promise<string> {
  const dir = path.join(tmp, 'models', name);
  await writeModelFolder(dir, { config, weights: randomWeights(config, seed), tokenizer: charTokenizerFiles(chars), attentionOutputs: false });
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  delete cfg.token_lens;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

async function load(dir: string): Promise<void> {
  const s = await ModelSession.load(dir, { cacheDir });
  await s.analyze(TEXT);
  await s.dispose();
}

/** Bytes of the regular files under a folder, as `du --apparent-size` would add them up. */
function filesBytes(dir: string): number {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile()).reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
}

const preparedSources = () => listStorage({ cacheDir }).filter((i) => i.kind === 'prepared').map((i) => path.basename(i.name)).sort();

test('prepared copies are kept by last use: the least recently used goes first', async () => {
  const models = await Promise.all(['m0', 'm1', 'm2', 'm3', 'm4'].map((n, i) => foreignModel(n, i + 1)));
  for (const m of models.slice(0, PREPARED_LIMITS.keep)) await load(m);
  assert.deepEqual(preparedSources(), ['m0', 'm1', 'm2', 'm3']);
  await load(models[0]);   // m0 is used again: m1 is now the least recently used
  await load(models[4]);
  assert.deepEqual(preparedSources(), ['m0', 'm2', 'm3', 'm4']);

  const items = listStorage({ cacheDir }).filter((i) => i.kind === 'prepared');
  for (const item of items) {
    assert.equal(item.bytes, filesBytes(item.path), item.name);
    assert.ok(item.bytes > fs.statSync(path.join(item.path, 'onnx', 'model.onnx')).size);
  }
  // A copy unused for over a month goes even when there is room for it.
  const stale = items.find((i) => i.name.endsWith('m2'))!;
  const longAgo = new Date(Date.now() - 40 * 86_400_000);
  fs.utimesSync(path.join(stale.path, 'surgery.json'), longAgo, longAgo);
  const evicted = evictPrepared(cacheDir, { keep: 10, maxAgeDays: 30 });
  assert.deepEqual(evicted.map((i) => path.basename(i.name)), ['m2']);
  assert.deepEqual(preparedSources(), ['m0', 'm3', 'm4']);
  // An evicted model is prepared again when next loaded.
  await load(models[1]);
  assert.deepEqual(preparedSources(), ['m0', 'm1', 'm3', 'm4']);
});

test('trained runs are listed with their checkpoint (weights + Adam moments), which can go on its own', async () => {
  const file = path.join(tmp, 'train.txt');
  fs.writeFileSync(file, 'To be, or not to be, that is the question.\n'.repeat(20));
  const out = path.join(trainedDir, 'hamlet-toy-1');
  const t = await Trainer.create({ file, out, preset: 'toy', steps: 2, batch: 2, block: 16, threads: 1, evalBatches: 1 });
  await t.run();
  const params = [...t.weights().values()].reduce((n, w) => n + w.data.length, 0);
  await t.dispose();

  const items = listStorage({ cacheDir, trainedDir });
  const run = items.find((i) => i.kind === 'trained')!;
  const ckpt = items.find((i) => i.kind === 'checkpoint')!;
  assert.equal(run.path, out);
  assert.equal(run.bytes, filesBytes(out));
  assert.equal(ckpt.path, path.join(out, 'trainer-checkpoint.bin'));
  // Weights and AdamW's two moments, float32 each.
  assert.ok(ckpt.bytes >= params * 3 * 4 && ckpt.bytes < params * 3 * 4 + 1e6, `${ckpt.bytes} bytes for ${params} parameters`);
  assert.ok(items.every((a, i) => i === 0 || items[i - 1].bytes >= a.bytes), 'largest first');

  const { removed } = removeStored([ckpt], { cacheDir, trainedDir });
  assert.equal(removed.length, 1);
  assert.ok(!fs.existsSync(ckpt.path));
  const s = await ModelSession.load(out, { cacheDir });   // the trained model itself is still there
  await s.dispose();
  assert.ok(!listStorage({ cacheDir, trainedDir }).some((i) => i.kind === 'checkpoint'));
});

test('nothing outside the storage folders is ever deleted', () => {
  const outside = path.join(tmp, 'models', 'm0');
  const { removed, failed } = removeStored([{ kind: 'trained', path: outside, name: 'm0', bytes: 1, lastUsed: 0 },
    { kind: 'trained', path: path.join(trainedDir, '..', 'models'), name: 'x', bytes: 1, lastUsed: 0 },
    { kind: 'prepared', path: cacheDir, name: 'root', bytes: 1, lastUsed: 0 }], { cacheDir, trainedDir });
  assert.equal(removed.length, 0);
  assert.equal(failed.length, 3);
  assert.ok(fs.existsSync(outside) && fs.existsSync(cacheDir));
});
