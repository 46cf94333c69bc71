// Loading by Hub id: a local HTTP server on 127.0.0.1 plays the Hub and serves a model folder that
// Token Lens wrote; the real transformers.js download path fetches it into the cache.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';
import type { LoadProgress } from '../../src/core/types';
import { type HubServer, serveFolder } from './hubServer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-hub-'));
const served = path.join(tmp, 'served');
let server: HubServer;
let stall = false;
const TEXT = 'a small hub model';

before(async () => {
  const chars = charVocabulary(TEXT);
  const config = llamaConfig({ n_embd: 16, d_ff: 32, n_layer: 2, n_head: 2, n_kv_head: 1, vocab_size: chars.length + 1,
    block_size: 32 });
  await writeModelFolder(served, { config, weights: randomWeights(config, 5), tokenizer: charTokenizerFiles(chars), attentionOutputs: true });
  server = await serveFolder('token-lens-test/tiny', served, { stall: (file) => stall && file.endsWith('.onnx') });
});

after(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a Hub id is downloaded with progress, cached, and reused offline', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const events: LoadProgress[] = [];
  const session = await ModelSession.load('token-lens-test/tiny', { cacheDir, remoteHost: server.host, onProgress: (p) => events.push(p) });
  const first = await session.analyze(TEXT);
  await session.dispose();
  assert.ok(server.requests.some((r) => r.includes('onnx/model.onnx')));
  assert.ok(events.some((e) => e.status === 'progress' && e.file === 'onnx/model.onnx' && e.progress === 100));
  assert.ok(events.some((e) => e.status === 'done'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) {
    assert.deepEqual(fs.readFileSync(path.join(cacheDir, 'token-lens-test/tiny', f)), fs.readFileSync(path.join(served, f)));
  }
  const before = server.requests.length;
  const offline = await ModelSession.load('token-lens-test/tiny', { cacheDir, offline: true, remoteHost: server.host });
  const again = await offline.analyze(TEXT);
  await offline.dispose();
  assert.equal(server.requests.length, before, 'offline: no request reaches the server');
  assert.deepEqual(again.tokens.map((t) => t.loss), first.tokens.map((t) => t.loss));
});

test('offline mode refuses a model that is not cached, with a clear message', async () => {
  await assert.rejects(
    ModelSession.load('token-lens-test/tiny', { cacheDir: path.join(tmp, 'empty'), offline: true, remoteHost: server.host }),
    (e: Error) => e instanceof ModelLoadError && /Offline mode/.test(e.message) && /not in the model cache/.test(e.message));
});

test('a failed download says which model and why, and leaves no broken cache', async () => {
  const cacheDir = path.join(tmp, 'cache-missing');
  await assert.rejects(
    ModelSession.load('token-lens-test/absent', { cacheDir, remoteHost: server.host }),
    (e: Error) => e instanceof ModelLoadError && /Could not download "token-lens-test\/absent"/.test(e.message));
  assert.ok(!fs.existsSync(path.join(cacheDir, 'token-lens-test/absent/onnx/model.onnx')));
});

test('a cancelled download stops, says so, and leaves no partial file', async () => {
  const cacheDir = path.join(tmp, 'cache-cancel');
  stall = true;
  const controller = new AbortController();
  const loading = ModelSession.load('token-lens-test/tiny', {
    cacheDir, remoteHost: server.host, signal: controller.signal,
    onProgress: (p) => { if (p.file === 'onnx/model.onnx' && p.status === 'progress') controller.abort(); },
  });
  setTimeout(() => controller.abort(), 3000);
  await assert.rejects(loading, (e: Error) => e instanceof ModelLoadError && /cancelled/.test(e.message));
  stall = false;
  const onnxDir = path.join(cacheDir, 'token-lens-test/tiny/onnx');
  assert.deepEqual(fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir) : [], []);
});
