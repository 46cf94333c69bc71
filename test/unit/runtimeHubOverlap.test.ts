// Two Hub downloads at once, each from its own host (two local HTTP servers playing the Hub) into its own
// cache: transformers.js keeps the host, the cache folder and fetch in one global `env`, so overlapping
// downloads must neither send each other's requests to the wrong host nor leave `env` changed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { ModelSession } from '../../src/core/runtime/session';
import { transformers } from '../../src/core/runtime/transformers';
import { type HubServer, serveFolder } from './hubServer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-hub2-'));
const served = path.join(tmp, 'served');
const TEXT = 'two hubs at once';

const hubs: HubServer[] = [];

/** Serves `served` as the Hub model `id`, each response `delayMs` late (a slow mirror). */
async function hub(id: string, delayMs: number): Promise<HubServer> {
  const h = await serveFolder(id, served, { delayMs });
  hubs.push(h);
  return h;
}

before(async () => {
  const chars = charVocabulary(TEXT);
  const config = llamaConfig({ n_embd: 16, d_ff: 32, n_layer: 2, n_head: 2, n_kv_head: 1, vocab_size: chars.length + 1,
    block_size: 32 });
  await writeModelFolder(served, { config, weights: randomWeights(config, 9), tokenizer: charTokenizerFiles(chars), attentionOutputs: true });
});

after(async () => {
  for (const h of hubs) await h.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('two overlapping downloads each use their own host and cache, and leave env as it was', async () => {
  const { env } = await transformers();
  const before = { remoteHost: env.remoteHost, cacheDir: env.cacheDir, allowRemoteModels: env.allowRemoteModels,
    allowLocalModels: env.allowLocalModels, fetch: env.fetch };
  const slow = await hub('mirror-a/slow', 150);
  const fast = await hub('mirror-b/fast', 0);
  const [a, b] = await Promise.all([
    ModelSession.load('mirror-a/slow', { cacheDir: path.join(tmp, 'cache-a'), remoteHost: slow.host }),
    // Starts while the first download is still waiting for its host.
    new Promise((r) => setTimeout(r, 50)).then(() =>
      ModelSession.load('mirror-b/fast', { cacheDir: path.join(tmp, 'cache-b'), remoteHost: fast.host })),
  ]);
  try {
    assert.ok(slow.requests.length > 0 && slow.requests.every((r) => / \/mirror-a\/slow\//.test(r)), slow.requests.join(', '));
    assert.ok(fast.requests.length > 0 && fast.requests.every((r) => / \/mirror-b\/fast\//.test(r)), fast.requests.join(', '));
    for (const [id, dir] of [['mirror-a/slow', 'cache-a'], ['mirror-b/fast', 'cache-b']]) {
      assert.deepEqual(fs.readFileSync(path.join(tmp, dir, id, 'onnx/model.onnx')), fs.readFileSync(path.join(served, 'onnx/model.onnx')));
    }
    assert.deepEqual((await a.analyze(TEXT)).tokens.map((t) => t.loss), (await b.analyze(TEXT)).tokens.map((t) => t.loss));
  } finally {
    await a.dispose();
    await b.dispose();
  }
  assert.equal(env.remoteHost, before.remoteHost);
  assert.equal(env.cacheDir, before.cacheDir);
  assert.equal(env.allowRemoteModels, before.allowRemoteModels);
  assert.equal(env.fetch, before.fetch);
});

test('a download waiting for its turn can be cancelled', async () => {
  const slow = await hub('mirror-c/slow', 400);
  const first = ModelSession.load('mirror-c/slow', { cacheDir: path.join(tmp, 'cache-c'), remoteHost: slow.host });
  const controller = new AbortController();
  const second = ModelSession.load('mirror-c/slow', { cacheDir: path.join(tmp, 'cache-d'), remoteHost: slow.host, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  const t0 = Date.now();
  await assert.rejects(second, /cancelled/);
  assert.ok(Date.now() - t0 < 2000, 'the cancelled download did not wait for the other one');
  await (await first).dispose();
});
