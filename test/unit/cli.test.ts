// The token-lens command line, run as a user would (through tsx on the sources).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const shared = path.resolve(root, 'vendor/stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-'));
const model = path.join(tmp, 'stories260K');

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

before(() => {
  const r = cli('import-llama2c', '--checkpoint', path.join(shared, 'stories260K.bin'), '--tokenizer', path.join(shared, 'tok512.bin'), '--out', model);
  assert.equal(r.code, 0, r.err);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('explain as text: perplexity grouped in thousands, candidates as plain percentages', () => {
  const r = cli('explain', '--model', model, '--top-k', '10', 'SELECT * FROM users WHERE id = 42; zzqx');
  assert.equal(r.code, 0, r.err);
  // stories260K never saw SQL: its perplexity is in the thousands, and it once printed as "8401.78".
  assert.match(r.out, /^mean loss \d+\.\d{4} nats, perplexity \d{1,3}(,\d{3})+$/m);
  const probs = r.out.split('\n').filter((l) => /logit/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
  assert.equal(probs.length, 10);
  for (const p of probs) assert.match(p, /^(<0\.01|\d+\.\d{1,3})%$/);
});

test('explain --json --attention prints the documented shape', () => {
  const text = 'Once upon a time, there was a little girl named';
  const r = cli('explain', '--model', model, '--json', '--attention', '--top-k', '4', text);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.model, model);
  assert.equal(j.tokens[0].text, '<s>');
  assert.deepEqual([j.tokens[0].prob, j.tokens[0].rank, j.tokens[0].loss], [null, null, null]);
  for (const t of j.tokens.slice(1)) {
    assert.deepEqual(Object.keys(t), ['id', 'text', 'start', 'end', 'prob', 'rank', 'loss']);
    assert.ok(t.prob > 0 && t.prob <= 1 && t.rank >= 1 && Math.abs(t.loss + Math.log(t.prob)) < 1e-6);
  }
  const losses = j.tokens.slice(1).map((t: { loss: number }) => t.loss);
  assert.ok(Math.abs(j.meanLoss - losses.reduce((a: number, b: number) => a + b, 0) / losses.length) < 1e-9);
  assert.equal(j.next.length, 4);
  assert.equal(j.next[0].text, ' Lily');
  assert.equal(j.attention.layers, 5);
  assert.equal(j.attention.heads, 8);
  const T = j.tokens.length;
  assert.equal(j.attention.weights[4][7].length, T);
  assert.equal(j.attention.weights[4][7][T - 1].length, T);
});

test('explain --attention-layers prints the layers named, as the full output has them; bad lists are refused', () => {
  const text = 'Once upon a time, there was a little girl named';
  const all = JSON.parse(cli('explain', '--model', model, '--json', '--attention', text).out);
  const r = cli('explain', '--model', model, '--json', '--attention-layers', '4,1-2', text);
  assert.equal(r.code, 0, r.err);
  const some = JSON.parse(r.out);
  assert.deepEqual([some.attention.layers, some.attention.heads, some.attention.layerIndices], [5, 8, [4, 1, 2]]);
  assert.deepEqual(all.attention.layerIndices, [0, 1, 2, 3, 4]);
  assert.deepEqual(some.attention.weights, [all.attention.weights[4], all.attention.weights[1], all.attention.weights[2]]);
  for (const [spec, message] of [['5', /layer 5 is outside 0\.\.4 \(the model has 5 layers\)/], ['1;2', /layer numbers and ranges like "0,3-5"/],
    ['3-1', /the range 3-1 runs backwards/]] as const) {
    const bad = cli('explain', '--model', model, '--json', '--attention-layers', spec, text);
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, message);
    assert.equal(bad.out, '');
  }
});

test('generate --greedy from an empty prompt starts the known story', () => {
  const r = cli('generate', '--model', model, '--greedy', '--max-new-tokens', '20', '');
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.startsWith('Once upon a time, there was a little girl named Lily'), r.out);
});

test('write-random writes a loadable model of a real shape', () => {
  const out = path.join(tmp, 'random-llama');
  assert.equal(cli('write-random', '--arch', 'llama', '--preset', 'stories260K', '--out', out).code, 0);
  const r = cli('explain', '--model', out, '--json', 'Hello');
  assert.equal(r.code, 0, r.err);
  assert.ok(JSON.parse(r.out).tokens.length > 1);
});

test('bad input: clear messages and non-zero exits', () => {
  const missing = cli('explain', '--model', path.join(tmp, 'nope'), 'text');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /Model folder not found/);
  const empty = cli('explain', '--model', model, '');
  assert.equal(empty.code, 2);
  assert.match(empty.err, /empty/);
  const unknown = cli('explain', '--model', model, '--bogus', 'x');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /bogus/);
  const binary = path.join(tmp, 'blob.bin');
  fs.writeFileSync(binary, Buffer.from([0x41, 0, 0x42]));
  const bin = cli('explain', '--model', model, '--file', binary);
  assert.equal(bin.code, 2);
  assert.match(bin.err, /binary/);
  const noCommand = cli('frobnicate');
  assert.equal(noCommand.code, 2);
  assert.equal(cli('write-random', '--arch', 'gpt2', '--preset', 'nope', '--out', path.join(tmp, 'x')).code, 2);
});
