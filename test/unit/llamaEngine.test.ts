// The llama.cpp engine through the command line, as a user runs it: stories260K exported by
// `export-gguf` equals the ONNX engine, and a GGUF converted by an independent writer
// (test/reference/ggufFromLlama2c.ts) gives the llama2.c reference numbers.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { referenceForward, referenceLosses } from '../reference/forward';
import { readLlama2c } from '../reference/llama2c';
import { llama2cEncode, readRawPieces } from '../reference/llama2cEncode';
import { convertLlama2cToGguf } from '../reference/ggufFromLlama2c';
import { loadEngine } from '../../src/core/engines/load';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendor = path.join(root, 'vendor/stories260K');
const CHECKPOINT = path.join(vendor, 'stories260K.bin');
const TOKENIZER = path.join(vendor, 'tok512.bin');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-llama-'));
const folder = path.join(tmp, 'stories260K');
const exported = path.join(tmp, 'exported.gguf');
const independent = path.join(tmp, 'independent.gguf');
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside with her dog, Max. ' +
  'One day, they found a big red ball in the park. "Can we keep it?" asked Lily. Ünïcödé 🙂 too.';

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

interface Explained {
  tokens: { id: number; text: string; start: number; end: number; prob: number | null; rank: number | null; loss: number | null }[];
  meanLoss: number;
  perplexity: number;
  next: { id: number; text: string; prob: number; logit: number }[];
  attention?: unknown;
}

function explain(model: string, ...extra: string[]): Explained {
  const r = cli('explain', '--model', model, '--json', '--top-k', '20', ...extra, TEXT);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

before(() => {
  let r = cli('import-llama2c', '--checkpoint', CHECKPOINT, '--tokenizer', TOKENIZER, '--out', folder);
  assert.equal(r.code, 0, r.err);
  r = cli('export-gguf', '--model', folder, '--out', exported);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote .*exported\.gguf \(47 F32 tensors/);
  convertLlama2cToGguf(CHECKPOINT, TOKENIZER, independent);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('export-gguf: llama.cpp on the exported file equals the ONNX engine within 1e-4', () => {
  const onnx = explain(folder);
  const gguf = explain(exported);
  assert.deepEqual(gguf.tokens.map((t) => [t.id, t.text, t.start, t.end, t.rank]), onnx.tokens.map((t) => [t.id, t.text, t.start, t.end, t.rank]));
  assert.deepEqual([gguf.tokens[0].prob, gguf.tokens[0].rank, gguf.tokens[0].loss], [null, null, null]);
  for (let i = 1; i < onnx.tokens.length; i++) {
    assert.ok(Math.abs(gguf.tokens[i].loss! - onnx.tokens[i].loss!) < 1e-4, `loss at ${i}`);
    assert.ok(Math.abs(gguf.tokens[i].prob! - onnx.tokens[i].prob!) < 1e-4, `prob at ${i}`);
  }
  assert.ok(Math.abs(gguf.meanLoss - onnx.meanLoss) < 1e-4);
  assert.ok(Math.abs(gguf.perplexity - Math.exp(gguf.meanLoss)) < 1e-9);
  assert.deepEqual(gguf.next.map((c) => c.id), onnx.next.map((c) => c.id));
  gguf.next.forEach((c, j) => {
    assert.ok(Math.abs(c.prob - onnx.next[j].prob) < 1e-4, `next prob ${j}`);
    assert.ok(Math.abs(c.logit - onnx.next[j].logit) < 1e-4, `next logit ${j}`);
  });
  // The ranks include tokens far down the list (the emoji's byte pieces): they are exact, not capped.
  assert.ok(onnx.tokens.some((t) => (t.rank ?? 0) > 100), 'the text has a token ranked below the kept top rows');
});

test('one engine scores, generates and serves full rows in turn: every answer equals the ONNX engine', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const onnx = await loadEngine(folder, { cacheDir });
  const gguf = await loadEngine(exported, { cacheDir });
  try {
    const other = 'The dog ran to the park. It was sunny and the dog was happy.';
    const first = await gguf.analyze(TEXT);
    const story = await gguf.generate('', { greedy: true, maxNewTokens: 30 });
    assert.ok(story.startsWith('Once upon a time, there was a little girl named Lily.'), story);
    // Scoring after generation (and after another text) sees no cache cells left behind by either.
    await gguf.analyze(other);
    const again = await gguf.analyze(TEXT, { fresh: true });
    assert.deepEqual(again.tokens.map((t) => [t.loss, t.rank]), first.tokens.map((t) => [t.loss, t.rank]));
    const reference = await onnx.analyze(TEXT);
    const all = { temperature: 1, topK: 0, topP: 1 };
    // Rows while llama.cpp still holds this text's logits, then after another text replaced them.
    for (const position of [again.tokens.length - 1, 3, 20]) {
      if (position === 3) await gguf.analyze(other, { fresh: true });
      const [ours, theirs] = [await again.distribution(position, all, 30), await reference.distribution(position, all, 30)];
      assert.deepEqual(ours.map((c) => c.id), theirs.map((c) => c.id), `row ${position}`);
      ours.forEach((c, j) => assert.ok(Math.abs(c.prob - theirs[j].prob) < 1e-4, `row ${position} prob ${j}`));
      assert.deepEqual(again.topK(position, 30).map((c) => c.id), theirs.map((c) => c.id), `top ${position}`);
    }
  } finally {
    await gguf.dispose();
    await onnx.dispose();
  }
});

test('an independently converted GGUF gives the llama2.c numbers within 1e-4', () => {
  const { config, weights } = readLlama2c(CHECKPOINT);
  const { pieces, scores } = readRawPieces(fs.readFileSync(TOKENIZER));
  const ids = llama2cEncode(pieces, scores, new TextEncoder().encode(TEXT), true, false);
  const reference = referenceLosses(referenceForward(config, weights, ids), ids);
  const gguf = explain(independent);
  assert.deepEqual(gguf.tokens.map((t) => t.id), ids);
  assert.equal(gguf.tokens.slice(1).map((t) => TEXT.slice(t.start, t.end)).join(''), TEXT);
  reference.forEach((loss, i) => assert.ok(Math.abs(gguf.tokens[i + 1].loss! - loss) < 1e-4, `loss at ${i + 1}: ${gguf.tokens[i + 1].loss} vs ${loss}`));
  const mean = reference.reduce((a, b) => a + b, 0) / reference.length;
  assert.ok(Math.abs(gguf.meanLoss - mean) < 1e-4, `${gguf.meanLoss} vs ${mean}`);
});

test('--attention on llama.cpp: one line on stderr, no attention in the JSON, exit 0', () => {
  const r = cli('explain', '--model', exported, '--json', '--attention', 'Once upon a time');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, 'llama.cpp does not expose attention: --attention is ignored.\n');
  const json = JSON.parse(r.out);
  assert.equal('attention' in json, false);
  assert.equal(json.tokens.length, 5);
});

test('generate on a GGUF file tells the known story; --fast says its numbers are approximate', () => {
  const r = cli('generate', '--model', exported, '--greedy', '--max-new-tokens', '40', '');
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.startsWith('Once upon a time, there was a little girl named Lily.'), r.out);
  const fast = cli('explain', '--model', exported, '--fast', '--json', 'Once upon a time');
  assert.equal(fast.code, 0, fast.err);
  assert.match(fast.err, /approximate/);
});

test('bad GGUF input: vocab-only, corrupt, truncated, unknown architecture, not GGUF', () => {
  const vocabOnly = path.join(tmp, 'vocab-only.gguf');
  convertLlama2cToGguf(CHECKPOINT, TOKENIZER, vocabOnly, { vocabOnly: true });
  let r = cli('explain', '--model', vocabOnly, 'Once');
  assert.equal(r.code, 1);
  assert.match(r.err, /holds a vocabulary only \(no weights\)/);

  const unknown = path.join(tmp, 'unknown-arch.gguf');
  convertLlama2cToGguf(CHECKPOINT, TOKENIZER, unknown, { architecture: 'nosucharch' });
  r = cli('explain', '--model', unknown, 'Once');
  assert.equal(r.code, 1);
  assert.match(r.err, /"nosucharch" model, an architecture this llama\.cpp .* does not know/);

  const corrupt = path.join(tmp, 'corrupt.gguf');
  const bytes = fs.readFileSync(exported);
  fs.writeFileSync(corrupt, bytes.subarray(0, 200));
  r = cli('explain', '--model', corrupt, 'Once');
  assert.equal(r.code, 1);
  assert.match(r.err, /corrupt or truncated GGUF file/);

  const truncated = path.join(tmp, 'truncated.gguf');
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 4096));
  r = cli('explain', '--model', truncated, 'Once');
  assert.equal(r.code, 1);
  assert.match(r.err, /truncated\.gguf is truncated: tensor .* runs past the end of the file/);

  const notGguf = path.join(tmp, 'text.gguf');
  fs.writeFileSync(notGguf, 'hello');
  r = cli('explain', '--model', notGguf, 'Once');
  assert.equal(r.code, 1);
  assert.match(r.err, /is not a GGUF file/);
});

test('Ollama models by name: the store found through its manifests; a missing store or model says so', () => {
  const store = path.join(tmp, 'ollama');
  const digest = 'sha256:' + 'ab'.repeat(32);
  fs.mkdirSync(path.join(store, 'blobs'), { recursive: true });
  fs.copyFileSync(exported, path.join(store, 'blobs', digest.replace(':', '-')));
  const manifest = path.join(store, 'manifests', 'registry.ollama.ai', 'library', 'stories', '260k');
  fs.mkdirSync(path.dirname(manifest), { recursive: true });
  fs.writeFileSync(manifest, JSON.stringify({ schemaVersion: 2, layers: [
    { mediaType: 'application/vnd.ollama.image.model', digest, size: fs.statSync(exported).size },
  ] }));
  const run = (dir: string, model: string) =>
    cliRunner({ cache: path.join(tmp, 'cache'), env: { OLLAMA_MODELS: dir } })('explain', '--model', model, '--json', 'Once upon a time');
  let r = run(store, 'ollama:stories:260k');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).model, 'ollama:stories:260k');
  r = run(store, 'ollama:llama3.2:1b');
  assert.equal(r.code, 1);
  assert.match(r.err, /Ollama has no model "llama3\.2:1b" .*installed: stories:260k/);
  r = run(path.join(tmp, 'no-such-store'), 'ollama:stories:260k');
  assert.equal(r.code, 1);
  assert.match(r.err, /No Ollama models at .*no-such-store \(no manifests folder\)\. Set OLLAMA_MODELS/);
});
