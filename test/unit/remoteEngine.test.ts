// The remote engine against vLLM's and SGLang's documented response shapes (test/fixtures/vllm, sglang)
// and against a real `token-lens serve` on 127.0.0.1 (both APIs), and every way a server can fail.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { NO_PROMPT_LOGPROBS, RemoteEngine } from '../../src/core/engines/remote/remoteEngine';
import { cliRunner, sourceCliArgs } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendor = path.join(root, 'vendor/stories260K');
const fixtures = path.join(root, 'test/fixtures/vllm');
const sglangFixtures = path.join(root, 'test/fixtures/sglang');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-remote-'));
const folder = path.join(tmp, 'stories260K');
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside. Ünï 🙂 ok.';
const servers: ChildProcess[] = [];
const fakes: http.Server[] = [];

const cli = (args: string[], env: Record<string, string> = {}) => cliRunner({ cache: path.join(tmp, 'cache'), env })(...args);

/** `token-lens serve` on a free port; resolves with its base address once it listens. */
function serve(args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, sourceCliArgs('serve', '--port', '0', ...args), {
    cwd: root, env: { ...process.env, TOKEN_LENS_CACHE: path.join(tmp, 'cache'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

/** A server of our own making: /v1/models lists one model, /get_model_info answers `modelInfo` (404 when
 *  none, as vLLM does), the rest as `answer` says. */
async function fake(answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void, modelInfo?: string): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/models') {
        return res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama-8b', object: 'model', max_model_len: 8192 }] }));
      }
      if (req.url === '/get_model_info') {
        if (modelInfo) return res.end(modelInfo);
        res.statusCode = 404;
        return res.end(JSON.stringify({ detail: 'Not Found' }));
      }
      answer(req, res, body);
    });
  });
  fakes.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const replay = (file: string) => fake((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(fs.readFileSync(path.join(fixtures, file))); });

before(() => {
  const r = cli(['import-llama2c', '--checkpoint', path.join(vendor, 'stories260K.bin'), '--tokenizer', path.join(vendor, 'tok512.bin'), '--out', folder]);
  assert.equal(r.code, 0, r.err);
});
after(() => {
  for (const s of servers) s.kill();
  for (const f of fakes) f.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('contract: vLLM\'s documented prompt_logprobs response becomes tokens, ranks, offsets and candidates', async () => {
  const engine = await RemoteEngine.load({ url: await replay('prompt-logprobs.json'), timeoutMs: 5000 });
  const a = await engine.analyze('The');
  // BOS is zero-width; "The" spans the text although text_offset counted "<|begin_of_text|>" before it.
  assert.deepEqual(a.tokens.map((t) => [t.id, t.start, t.end, t.special]), [[128000, 0, 0, true], [791, 0, 3, false]]);
  assert.equal(a.tokens[1].rank, 4);
  assert.ok(Math.abs(a.tokens[1].loss! - 3.679518699645996) < 1e-6);
  assert.ok(Math.abs(a.meanLoss - 3.679518699645996) < 1e-6);
  assert.deepEqual(a.topK(0, 5).map((c) => [c.id, c.text]), [[14924, 'Question'], [755, 'def'], [2, '#'], [791, 'The'], [16309, 'Tags']]);
  assert.ok(Math.abs(a.topK(0, 1)[0].prob - Math.exp(-1.179518699645996)) < 1e-6);
  // After the last prompt token: the generated token's candidates, named by text.
  assert.deepEqual(a.topK(1, 2).map((c) => c.text), [' capital', ' first']);
  // The server gave five candidates per position: that is the most a view can show.
  assert.equal(a.vocabSize, 5);
  assert.match(a.approximate ?? '', /top 5 candidates per position/);
  const d = await a.distribution(0, { temperature: 1, topK: 2, topP: 1 }, 5);
  assert.deepEqual(d.map((c) => c.text), ['Question', 'def']);
  await engine.dispose();
});

test('servers that do not give prompt log-probabilities are refused by name (llama-server, the chat API)', async () => {
  for (const file of ['llama-server.json', 'chat-completion.json']) {
    const engine = await RemoteEngine.load({ url: await replay(file), timeoutMs: 5000 });
    await assert.rejects(engine.analyze('The capital of France is'), (e: Error) => e.message.endsWith(NO_PROMPT_LOGPROBS));
  }
});

test('contract: SGLang\'s /v1/completions (text_offset -1, no ids) reads as vLLM\'s example does', async () => {
  const url = await fake((_req, res) => res.end(fs.readFileSync(path.join(sglangFixtures, 'completions-echo.json'))));
  const engine = await RemoteEngine.load({ url, timeoutMs: 5000 });
  assert.equal(engine.api, 'openai');
  const a = await engine.analyze('The');
  assert.deepEqual(a.tokens.map((t) => [t.text, t.start, t.end, t.special]), [['<|begin_of_text|>', 0, 0, true], ['The', 0, 3, false]]);
  assert.ok(Math.abs(a.tokens[1].loss! - 3.679518699645996) < 1e-6);
  assert.equal(a.tokens[1].rank, 4);
  assert.deepEqual(a.topK(0, 5).map((c) => c.text), ['Question', 'def', '#', 'The', 'Tags']);
  assert.deepEqual(a.topK(1, 2).map((c) => c.text), [' capital', ' first']);
});

test('contract: SGLang\'s native /generate, found through /get_model_info: ids, ranks and candidates by id', async () => {
  let asked: Record<string, unknown> = {};
  const url = await fake((req, res, body) => {
    assert.equal(req.url, '/generate');
    asked = JSON.parse(body);
    res.end(fs.readFileSync(path.join(sglangFixtures, 'generate.json')));
  }, fs.readFileSync(path.join(sglangFixtures, 'get-model-info.json'), 'utf8'));
  const engine = await RemoteEngine.load({ url, timeoutMs: 5000 });
  assert.equal(engine.api, 'sglang');
  const a = await engine.analyze('The');
  assert.deepEqual(asked, { text: 'The', sampling_params: { max_new_tokens: 1, temperature: 0 }, return_logprob: true, logprob_start_len: 0, top_logprobs_num: 20, return_text_in_logprobs: true });
  assert.deepEqual(a.tokens.map((t) => [t.id, t.start, t.end, t.special]), [[128000, 0, 0, true], [791, 0, 3, false]]);
  assert.equal(a.tokens[1].rank, 4);
  assert.ok(Math.abs(a.tokens[1].loss! - 3.679518699645996) < 1e-6);
  assert.deepEqual(a.topK(0, 5).map((c) => [c.id, c.text]), [[14924, 'Question'], [755, 'def'], [2, '#'], [791, 'The'], [16309, 'Tags']]);
  assert.deepEqual(a.topK(1, 2).map((c) => [c.id, c.text]), [[6864, ' capital'], [1176, ' first']]);
  assert.equal(a.vocabSize, 5);
  // Asked for the OpenAI API by name, the same server is scored through /v1/completions.
  assert.equal((await RemoteEngine.load({ url, timeoutMs: 5000, api: 'openai' })).api, 'openai');

  const broken = await fake((_req, res) => res.end(JSON.stringify({ text: ' capital', meta_info: { id: 'x', prompt_tokens: 2 } })), '{"model_path": "m", "tokenizer_path": "m", "is_generation": true}');
  await assert.rejects((await RemoteEngine.load({ url: broken, timeoutMs: 5000 })).analyze('The'), /not a \/generate response: meta_info\.input_token_logprobs is missing \(was return_logprob honoured\?\)/);
});

test('token-lens serve answers SGLang\'s /generate and /get_model_info in SGLang\'s shapes; scored through them it equals the local engine within 1e-4', async () => {
  const base = await serve(['--model', folder, '--served-model-name', 'stories260K']);
  const keys = (v: object) => Object.keys(v).sort();
  const info = await (await fetch(`${base}/get_model_info`)).json();
  assert.deepEqual(keys(info), keys(JSON.parse(fs.readFileSync(path.join(sglangFixtures, 'get-model-info.json'), 'utf8'))));
  const documented = JSON.parse(fs.readFileSync(path.join(sglangFixtures, 'generate.json'), 'utf8'));
  const served = await (await fetch(`${base}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({
    text: 'Once upon a time', sampling_params: { max_new_tokens: 1, temperature: 0 }, return_logprob: true, logprob_start_len: 0, top_logprobs_num: 5, return_text_in_logprobs: true,
  }) })).json();
  assert.deepEqual(keys(served), keys(documented));
  assert.deepEqual(keys(served.meta_info), keys(documented.meta_info));
  assert.equal(served.text, ',');
  assert.equal(served.meta_info.input_token_logprobs[0][0], null);
  assert.equal(served.meta_info.input_top_logprobs[0], null);
  assert.equal(served.meta_info.input_top_logprobs[1].length, 5);
  for (const triple of [...served.meta_info.input_token_logprobs, ...served.meta_info.output_top_logprobs[0]]) {
    assert.deepEqual(triple.map((v: unknown) => typeof v), [triple[0] === null ? 'object' : 'number', 'number', 'string']);
  }

  // `auto` finds SGLang's API on the server, and the CLI (default `--api auto`) scores through it.
  const engine = await RemoteEngine.load({ url: base, timeoutMs: 5000 });
  assert.equal(engine.api, 'sglang');
  const local = JSON.parse(cli(['explain', '--model', folder, '--json', '--top-k', '10', TEXT]).out);
  // The panel's distribution at temperature 1 is the server's probabilities, not a softmax over its top 20.
  const a = await engine.analyze(TEXT);
  const shown = await a.distribution(a.tokens.length - 1, { temperature: 1, topK: 0, topP: 1 }, 10);
  assert.deepEqual(shown.map((c) => c.id), local.next.map((c: { id: number }) => c.id));
  shown.forEach((c, j) => assert.ok(Math.abs(c.prob - local.next[j].prob) < 1e-4, `candidate ${j}: ${c.prob} vs ${local.next[j].prob}`));
  const top2 = await a.distribution(a.tokens.length - 1, { temperature: 1, topK: 2, topP: 1 }, 10);
  const pair = local.next[0].prob + local.next[1].prob;
  assert.ok(Math.abs(top2[0].prob - local.next[0].prob / pair) < 1e-4 && Math.abs(top2[1].prob - local.next[1].prob / pair) < 1e-4);
  const r = cli(['explain', '--model', base, '--api', 'sglang', '--json', '--top-k', '10', TEXT]);
  assert.equal(r.code, 0, r.err);
  const remote = JSON.parse(r.out);
  assert.deepEqual(remote.tokens.map((t: { id: number; start: number; end: number }) => [t.id, t.start, t.end]),
    local.tokens.map((t: { id: number; start: number; end: number }) => [t.id, t.start, t.end]));
  for (let i = 0; i < local.tokens.length; i++) {
    const [x, y] = [local.tokens[i], remote.tokens[i]];
    if (x.loss === null) { assert.deepEqual([y.prob, y.rank, y.loss], [null, null, null]); continue; }
    // /generate gives no rank: it is known within the 20 candidates asked for, and past them is "beyond 20".
    assert.equal(y.rank, Math.min(x.rank, 21), `rank at ${i}`);
    assert.ok(Math.abs(y.loss - x.loss) < 1e-4 && Math.abs(y.prob - x.prob) < 1e-4, `token ${i}: ${y.loss} vs ${x.loss}`);
  }
  assert.ok(Math.abs(remote.meanLoss - local.meanLoss) < 1e-4);
  assert.deepEqual(remote.next.map((c: { id: number }) => c.id), local.next.map((c: { id: number }) => c.id));
  remote.next.forEach((c: { prob: number }, j: number) => assert.ok(Math.abs(c.prob - local.next[j].prob) < 1e-4));
});

test('token-lens serve answers in vLLM\'s shapes, and the remote engine through it equals the local engine within 1e-4', async () => {
  const base = await serve(['--model', folder, '--served-model-name', 'stories260K']);
  // The response has every field of vLLM's documented response, with the same types.
  const documented = JSON.parse(fs.readFileSync(path.join(fixtures, 'prompt-logprobs.json'), 'utf8'));
  const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 1, temperature: 0, echo: true, logprobs: 5, prompt_logprobs: 5, return_token_ids: true }) });
  const served = await res.json();
  const shape = (v: unknown): unknown => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? Object.fromEntries(Object.keys(v!).sort().map((k) => [k, typeof (v as Record<string, unknown>)[k] === 'object' ? ((v as Record<string, unknown>)[k] === null ? 'null' : Array.isArray((v as Record<string, unknown>)[k]) ? 'array' : 'object') : typeof (v as Record<string, unknown>)[k]])) : typeof v);
  assert.deepEqual(shape(served), shape(documented));
  assert.deepEqual(shape(served.choices[0]), shape(documented.choices[0]));
  assert.deepEqual(shape(served.choices[0].logprobs), shape(documented.choices[0].logprobs));
  const entry = Object.values(served.choices[0].prompt_logprobs[1] as Record<string, object>)[0];
  assert.deepEqual(shape(entry), shape(Object.values(documented.choices[0].prompt_logprobs[1])[0]));
  assert.equal(served.choices[0].text, 'Once upon a time,');

  const local = JSON.parse(cli(['explain', '--model', folder, '--json', '--top-k', '10', TEXT]).out);
  const r = cli(['explain', '--model', base, '--api', 'openai', '--json', '--top-k', '10', TEXT]);
  assert.equal(r.code, 0, r.err);
  const remote = JSON.parse(r.out);
  assert.deepEqual(remote.tokens.map((t: { id: number; start: number; end: number }) => [t.id, t.start, t.end]),
    local.tokens.map((t: { id: number; start: number; end: number }) => [t.id, t.start, t.end]));
  for (let i = 0; i < local.tokens.length; i++) {
    const [x, y] = [local.tokens[i], remote.tokens[i]];
    if (x.loss === null) { assert.deepEqual([y.prob, y.rank, y.loss], [null, null, null]); continue; }
    assert.equal(y.rank, x.rank, `rank at ${i}`);
    assert.ok(Math.abs(y.loss - x.loss) < 1e-4 && Math.abs(y.prob - x.prob) < 1e-4, `token ${i}: ${y.loss} vs ${x.loss}`);
  }
  assert.ok(Math.abs(remote.meanLoss - local.meanLoss) < 1e-4);
  assert.deepEqual(remote.next.map((c: { id: number }) => c.id), local.next.map((c: { id: number }) => c.id));
  remote.next.forEach((c: { prob: number }, j: number) => assert.ok(Math.abs(c.prob - local.next[j].prob) < 1e-4));
});

test('a server allowing fewer candidates: the remote engine asks again with its limit and says so', async () => {
  const base = await serve(['--model', folder, '--max-logprobs', '5']);
  const r = cli(['explain', '--model', base, '--api', 'openai', '--json', '--top-k', '10', 'Once upon a time']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /the server returns at most 5 candidates per position; showing 5/);
  assert.equal(JSON.parse(r.out).next.length, 5);
});

test('faults: 401, refused, timeout, 429, malformed JSON, a connection dropped mid-answer, cancellation', async () => {
  const keyed = await serve(['--model', folder], { TOKEN_LENS_SERVE_API_KEY: 'sekret' });
  let r = cli(['explain', '--model', keyed, 'Once']);
  assert.equal(r.code, 1);
  assert.match(r.err, /refused the API key \(401: Invalid API key\)/);
  r = cli(['explain', '--model', keyed, '--json', 'Once'], { TOKEN_LENS_API_KEY: 'sekret' });
  assert.equal(r.code, 0, r.err);

  // A port nothing listens on.
  const closed = http.createServer();
  await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((res) => closed.close(res));
  r = cli(['explain', '--model', `http://127.0.0.1:${port}`, 'Once']);
  assert.equal(r.code, 1);
  assert.match(r.err, /Nothing is listening at http:\/\/127\.0\.0\.1:\d+ \(connection refused\): is the server running\?/);

  const hang = await fake(() => { /* never answers */ });
  r = cli(['explain', '--model', hang, '--timeout', '0.5', 'Once']);
  assert.equal(r.code, 1);
  assert.match(r.err, /did not answer within 0\.5 s \(the timeout\)/);

  const busy = await fake((_q, res) => { res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' }); res.end(JSON.stringify({ error: { message: 'Too many requests' } })); });
  await assert.rejects((await RemoteEngine.load({ url: busy, timeoutMs: 5000 })).analyze('Once'), /rate-limiting requests \(429\); retry after 7 s: Too many requests/);

  const garbled = await fake((_q, res) => { res.setHeader('content-type', 'application/json'); res.end('{"choices": [ {"text": "Once'); });
  await assert.rejects((await RemoteEngine.load({ url: garbled, timeoutMs: 5000 })).analyze('Once'), /answered with malformed JSON/);

  const wrongShape = await fake((_q, res) => { res.setHeader('content-type', 'application/json'); res.end('{"choices": [{"text": "Once", "logprobs": {"tokens": ["Once"], "token_logprobs": [], "text_offset": [0], "top_logprobs": [null]}}]}'); });
  await assert.rejects((await RemoteEngine.load({ url: wrongShape, timeoutMs: 5000 })).analyze('Once'), /not a completions response: logprobs.token_logprobs does not match tokens/);

  const dropping = await fake((_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
    res.write('{"id": "cmpl-1", "choices": [');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  await assert.rejects((await RemoteEngine.load({ url: dropping, timeoutMs: 5000 })).analyze('Once'), /closed the connection in the middle of its answer/);

  const engine = await RemoteEngine.load({ url: hang, timeoutMs: 60_000 });
  const abort = new AbortController();
  const started = Date.now();
  const pending = engine.analyze('Once', { signal: abort.signal });
  setTimeout(() => abort.abort(), 100);
  await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
  assert.ok(Date.now() - started < 5000, 'cancelling ends the request at once');
});
