// Loading by Hub id: a local HTTP server on 127.0.0.1 plays the Hub and serves a model folder that
// Token Lens wrote; the real transformers.js download path fetches it into the cache.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-hub-'));
const served = path.join(tmp, 'served');
const requests: string[] = [];
let server: http.Server;
let host = '';
let stall = false;
const TEXT = 'a small hub model';

before(async () => {
  const chars = charVocabulary(TEXT);
  const config = llamaConfig({ n_embd: 16, d_ff: 32, n_layer: 2, n_head: 2, n_kv_head: 1, vocab_size: chars.length + 1,
    block_size: 32 });
  await writeModelFolder(served, { config, weights: randomWeights(config, 5), tokenizer: charTokenizerFiles(chars), attentionOutputs: true });
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    // The Hub's layout: /{owner}/{name}/resolve/{revision}/{file}
    const m = /^\/token-lens-test\/tiny\/resolve\/main\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    const file = m && path.join(served, m[1]);
    if (!file || !file.startsWith(served) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') { res.end(); return; }
    if (stall && m[1].endsWith('.onnx')) {
      res.write(body.subarray(0, 10)); // then never finish: the client must cancel
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a Hub id is downloaded with progress, cached, and reused offline', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const events: LoadProgress[] = [];
  const session = await ModelSession.load('token-lens-test/tiny', { cacheDir, remoteHost: host, onProgress: (p) => events.push(p) });
  const first = await session.analyze(TEXT);
  await session.dispose();
  assert.ok(requests.some((r) => r.includes('onnx/model.onnx')));
  assert.ok(events.some((e) => e.status === 'progress' && e.file === 'onnx/model.onnx' && e.progress === 100));
  assert.ok(events.some((e) => e.status === 'done'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) {
    assert.deepEqual(fs.readFileSync(path.join(cacheDir, 'token-lens-test/tiny', f)), fs.readFileSync(path.join(served, f)));
  }
  const before = requests.length;
  const offline = await ModelSession.load('token-lens-test/tiny', { cacheDir, offline: true, remoteHost: host });
  const again = await offline.analyze(TEXT);
  await offline.dispose();
  assert.equal(requests.length, before, 'offline: no request reaches the server');
  assert.deepEqual(again.tokens.map((t) => t.loss), first.tokens.map((t) => t.loss));
});

test('offline mode refuses a model that is not cached, with a clear message', async () => {
  await assert.rejects(
    ModelSession.load('token-lens-test/tiny', { cacheDir: path.join(tmp, 'empty'), offline: true, remoteHost: host }),
    (e: Error) => e instanceof ModelLoadError && /Offline mode/.test(e.message) && /not in the model cache/.test(e.message));
});

test('a failed download says which model and why, and leaves no broken cache', async () => {
  const cacheDir = path.join(tmp, 'cache-missing');
  await assert.rejects(
    ModelSession.load('token-lens-test/absent', { cacheDir, remoteHost: host }),
    (e: Error) => e instanceof ModelLoadError && /Could not download "token-lens-test\/absent"/.test(e.message));
  assert.ok(!fs.existsSync(path.join(cacheDir, 'token-lens-test/absent/onnx/model.onnx')));
});

test('a cancelled download stops, says so, and leaves no partial file', async () => {
  const cacheDir = path.join(tmp, 'cache-cancel');
  stall = true;
  const controller = new AbortController();
  const loading = ModelSession.load('token-lens-test/tiny', {
    cacheDir, remoteHost: host, signal: controller.signal,
    onProgress: (p) => { if (p.file === 'onnx/model.onnx' && p.status === 'progress') controller.abort(); },
  });
  setTimeout(() => controller.abort(), 3000);
  await assert.rejects(loading, (e: Error) => e instanceof ModelLoadError && /cancelled/.test(e.message));
  stall = false;
  const onnxDir = path.join(cacheDir, 'token-lens-test/tiny/onnx');
  assert.deepEqual(fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir) : [], []);
});
