// Occlusion attribution on every engine, through the command line as a user runs it: stories260K exported to
// GGUF (llama.cpp) and served by a real `token-lens serve` on 127.0.0.1 (remote) give the ONNX engine's
// scores; each score is f on the text minus f on the text without that token, f read from `explain` on the
// shorter text; a long occlusion on llama.cpp stops when cancelled. Runs the built CLI: needs `npm run build`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadEngine } from '../../src/core/engines/load';
import { attribute } from '../../src/core/lenses/attribution';

const root = path.resolve(__dirname, '../..');
const cliJs = path.join(root, 'dist', 'cli.js');
const vendor = path.join(root, 'vendor/stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-occlusion-'));
const folder = path.join(tmp, 'stories260K');
const gguf = path.join(tmp, 'stories260K.gguf');
const env = { ...process.env, TOKEN_LENS_CACHE: path.join(tmp, 'cache') };
const TEXT = 'Once upon a time, there was a little girl named Lily. She';
let server: ChildProcess | undefined;
let url = '';

function cli(...args: string[]) {
  assert.ok(fs.existsSync(cliJs), `${cliJs} is missing: run \`npm run build\` first`);
  const r = spawnSync(process.execPath, [cliJs, ...args], { encoding: 'utf8', cwd: root, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Explained {
  tokens: { id: number; text: string; start: number; end: number }[];
  next: { id: number; text: string; prob: number; logit: number }[];
  attribution?: { method: string; target: { id: number; text: string }; contrast: { id: number; text: string } | null; scores: number[]; value: number;
    baselineValue: null; baseline: null; steps: null };
}

function explain(model: string, text: string, ...extra: string[]): Explained {
  const r = cli('explain', '--model', model, '--json', ...extra, text);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

const CONTRAST = ['--target', ' She', '--contrast', ' He'];
const runs = new Map<string, Explained>();
/** `explain --attribution occlusion` on TEXT, once per model and flags. */
function occlusion(model: string, ...extra: string[]): Explained {
  const key = JSON.stringify([model, extra]);
  if (!runs.has(key)) runs.set(key, explain(model, TEXT, '--attribution', 'occlusion', ...extra));
  return runs.get(key)!;
}

function assertClose(got: number[], want: number[], what: string, tol = 1e-4) {
  assert.equal(got.length, want.length, `${what}: length`);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= tol, `${what} at ${i}: ${g} vs ${want[i]}`));
}

before(async () => {
  let r = cli('import-llama2c', '--checkpoint', path.join(vendor, 'stories260K.bin'), '--tokenizer', path.join(vendor, 'tok512.bin'), '--out', folder);
  assert.equal(r.code, 0, r.err);
  r = cli('export-gguf', '--model', folder, '--out', gguf);
  assert.equal(r.code, 0, r.err);
  const child = spawn(process.execPath, [cliJs, 'serve', '--port', '0', '--model', folder],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out); if (m) resolve(m[1]); });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
});
after(() => {
  server?.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

for (const [name, model] of [['llama.cpp (GGUF)', () => gguf], ['a completions server (token-lens serve)', () => url]] as const) {
  for (const [what, extra] of [['the top-1 target', []], ['a target and a contrast', CONTRAST]] as const) {
    test(`occlusion on ${name} equals the ONNX engine within 1e-4: ${what}`, () => {
      const want = occlusion(folder, ...extra);
      const got = occlusion(model(), ...extra);
      const a = got.attribution!, b = want.attribution!;
      assert.deepEqual(got.tokens.map((t) => t.id), want.tokens.map((t) => t.id));
      assert.equal(a.scores.length, got.tokens.length, 'one score per token, BOS included');
      assert.deepEqual([a.method, a.target, a.contrast, a.baselineValue, a.baseline, a.steps], [b.method, b.target, b.contrast, null, null, null]);
      assertClose([a.value, ...a.scores], [b.value, ...b.scores], 'value and scores');
      assert.ok(Math.max(...a.scores.map(Math.abs)) > 0.05, 'the scores are not all zero');
      if (!extra.length) assert.equal(a.target.id, got.next[0].id, 'the default target is the top-1');
    });
  }
}

test('llama.cpp: each occlusion score is f(text) - f(text without that token), f read from explain on the shorter text', () => {
  const full = occlusion(gguf, ...CONTRAST);
  const only = occlusion(gguf);
  const { target, contrast } = full.attribution!;
  const ids = full.tokens.map((t) => t.id);
  let checked = 0;
  // Token 0 is BOS, which no text leaves out: the ONNX equality above covers its score. Every fourth token
  // keeps the run short (each re-run loads the model again).
  for (let i = 1; i < ids.length; i += 4) {
    const { start, end } = full.tokens[i];
    const shorter = explain(gguf, TEXT.slice(0, start) + TEXT.slice(end), '--top-k', '512');
    // Cutting a token's characters may tokenize the rest differently: those positions have no text of their own.
    if (JSON.stringify(shorter.tokens.map((t) => t.id)) !== JSON.stringify(ids.filter((_, j) => j !== i))) continue;
    const at = (id: number) => shorter.next.find((c) => c.id === id)!;
    assertClose([only.attribution!.scores[i]], [only.attribution!.value - Math.log(at(only.attribution!.target.id).prob)], `log p score ${i}`);
    assertClose([full.attribution!.scores[i]], [full.attribution!.value - (at(target.id).logit - at(contrast!.id).logit)], `contrast score ${i}`);
    checked++;
  }
  assert.ok(checked >= 3, `${checked} tokens checked`);
});

test('gradient methods on llama.cpp and on a server are refused with the engine\'s one-line note', () => {
  for (const [model, note] of [[gguf, /llama\.cpp does not compute gradients/], [url, /a completions server does not compute gradients/]] as const) {
    for (const method of ['gradient', 'integrated-gradients']) {
      const r = cli('explain', '--model', model, '--json', '--attribution', method, TEXT);
      assert.notEqual(r.code, 0);
      assert.match(r.err, note);
      assert.equal(r.out, '');
    }
  }
});

test('a long occlusion on llama.cpp stops when cancelled, and the engine scores correctly afterwards', async () => {
  const engine = await loadEngine(gguf, { cacheDir: path.join(tmp, 'cache') });
  try {
    const long = Array.from({ length: 12 }, () => TEXT).join(' ');
    const abort = new AbortController();
    const seen: [number, number][] = [];
    await assert.rejects(attribute(engine, long, {
      method: 'occlusion', signal: abort.signal,
      onProgress: (done, total) => { seen.push([done, total]); if (done === 3) abort.abort(); },
    }), (e: Error) => /cancel/i.test(e.message));
    const total = seen[0][1];
    assert.ok(total > 150, `${total} tokens`);
    assert.ok(seen.at(-1)![0] <= 4, `stopped at ${seen.at(-1)![0]} of ${total}`);
    const want = occlusion(folder).attribution!;
    const got = await attribute(engine, TEXT, { method: 'occlusion' });
    assertClose(got.scores, want.scores, 'scores after a cancelled run');
  } finally {
    await engine.dispose();
  }
});

test('a server occlusion stops when cancelled between requests', async () => {
  const engine = await loadEngine(url, { cacheDir: path.join(tmp, 'cache') });
  const abort = new AbortController();
  let last = 0;
  await assert.rejects(attribute(engine, Array.from({ length: 6 }, () => TEXT).join(' '), {
    method: 'occlusion', signal: abort.signal, onProgress: (done) => { last = done; abort.abort(); },
  }), (e: Error) => e.name === 'AbortError');
  assert.equal(last, 16, 'one request of 16 token-id prompts, then nothing');
});

test('token-lens serve: token-id prompts out of the vocabulary, or asking for a continuation, are refused with the reason', async () => {
  const post = async (body: unknown) => {
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() as { error: { message: string } } };
  };
  let r = await post({ prompt: [[1, 600]], max_tokens: 0, echo: true, logprobs: 1 });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /Token id 600 is out of vocabulary \(0 to 511\)/);
  r = await post({ prompt: [1, 2, 3], max_tokens: 5 });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /max_tokens must be 0/);
  r = await post({ prompt: [[1, 2], [-3]], max_tokens: 0 });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /lists of token ids/);
});
