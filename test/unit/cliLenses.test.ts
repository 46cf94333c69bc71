// explain --logit-lens and --attribution through the built CLI (`node dist/cli.js`), as a user runs them.
// Needs `npm run build`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BUILT_CLI, cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendor = path.join(root, 'vendor', 'stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-lenses-'));
const model = path.join(tmp, 'stories260K');
const TEXT = 'Once upon a time, there was a little girl named';
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache'), built: BUILT_CLI });

before(() => {
  const r = cli('import-llama2c', '--checkpoint', path.join(vendor, 'stories260K.bin'), '--tokenizer', path.join(vendor, 'tok512.bin'), '--out', model);
  assert.equal(r.code, 0, r.err);
});

interface Cell { id: number; text: string; prob: number }

test('explain --logit-lens --json: L rows of T cells of k candidates; the last row is the model\'s distribution', () => {
  const r = cli('explain', '--model', model, '--logit-lens', '--top-k', '4', '--json', TEXT);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  const T = j.tokens.length;
  const lens = j.logitLens;
  assert.deepEqual(Object.keys(lens), ['layers', 'top', 'decisionDepth']);
  assert.equal(lens.layers, 5);
  assert.equal(lens.top.length, 5);
  for (const layer of lens.top) {
    assert.equal(layer.length, T);
    for (const cell of layer as Cell[][]) {
      assert.equal(cell.length, 4);
      for (const c of cell) assert.deepEqual(Object.keys(c), ['id', 'text', 'prob']);
      for (let k = 1; k < 4; k++) assert.ok(cell[k - 1].prob >= cell[k].prob);
    }
  }
  const last: Cell[] = lens.top[4][T - 1];
  assert.deepEqual(last.map((c) => [c.id, c.text]), j.next.map((c: Cell) => [c.id, c.text]));
  last.forEach((c, k) => assert.ok(Math.abs(c.prob - j.next[k].prob) < 1e-5));
  assert.equal(lens.decisionDepth.length, T);
  for (const d of lens.decisionDepth) assert.ok(Number.isInteger(d) && d >= 0 && d < 5);
});

test('explain --attribution integrated-gradients --target " Lily" --contrast " S" --json: the documented shape, complete', () => {
  const r = cli('explain', '--model', model, '--attribution', 'integrated-gradients', '--target', ' Lily', '--contrast', ' S',
    '--steps', '32', '--json', TEXT);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  const a = j.attribution;
  assert.deepEqual(Object.keys(a), ['method', 'target', 'contrast', 'scores', 'value', 'baselineValue', 'baseline', 'steps']);
  assert.equal(a.method, 'integrated-gradients');
  assert.deepEqual(a.target, { id: 317, text: ' Lily' });
  assert.deepEqual(a.contrast, { id: 301, text: ' S' });
  assert.equal(a.scores.length, j.tokens.length);
  assert.ok(a.scores.every(Number.isFinite));
  assert.equal(a.steps, 32);
  assert.equal(a.baseline, 'mean token embedding');
  const logit = (id: number) => j.next.find((c: { id: number }) => c.id === id)?.logit;
  // --top-k 10 (default) holds both: the value is their logit difference.
  assert.ok(Math.abs(a.value - (logit(317) - logit(301))) < 1e-5);
  const sum = a.scores.reduce((x: number, y: number) => x + y, 0);
  assert.ok(Math.abs(sum - (a.value - a.baselineValue)) <= 0.01 * Math.abs(a.value - a.baselineValue));
});

test('explain --attribution occlusion|gradient --json: the default target is the top-1, f its log-probability', () => {
  for (const method of ['occlusion', 'gradient']) {
    const r = cli('explain', '--model', model, '--attribution', method, '--json', TEXT);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    const a = j.attribution;
    assert.deepEqual(a.target, { id: j.next[0].id, text: j.next[0].text });
    assert.equal(a.contrast, null);
    assert.ok(Math.abs(a.value - Math.log(j.next[0].prob)) < 1e-6);
    assert.deepEqual([a.baselineValue, a.baseline, a.steps], [null, null, null]);
    assert.equal(a.scores.length, j.tokens.length);
  }
});

test('explain as text prints the lens grid and the scores', () => {
  const r = cli('explain', '--model', model, '--logit-lens', '--attribution', 'occlusion', '--target', '317', TEXT);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^logit lens/m);
  assert.match(r.out, /settles at block \d/);
  assert.match(r.out, /^attribution \(occlusion\) of log p\(" Lily"\)/m);
});

test('lens flags: clear messages and exit 2 for bad input', () => {
  const cases: [string[], RegExp][] = [
    [['--steps', '8'], /--steps goes with --attribution/],
    [['--target', ' Lily'], /--target goes with --attribution/],
    [['--attribution', 'saliency'], /must be one of occlusion, gradient, integrated-gradients/],
    [['--attribution', 'gradient', '--steps', '8'], /--steps goes with --attribution integrated-gradients/],
    [['--attribution', 'integrated-gradients', '--steps', '0'], /--steps must be an integer/],
    [['--attribution', 'occlusion', '--target', 'Lily'], /no token of the vocabulary reads exactly/],
  ];
  for (const [flags, message] of cases) {
    const r = cli('explain', '--model', model, ...flags, TEXT);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
  }
});

test('an ONNX export Token Lens did not write: the lens says why it is missing, occlusion works, gradients are refused', () => {
  const foreign = path.join(tmp, 'foreign');
  fs.cpSync(model, foreign, { recursive: true });
  const cfgFile = path.join(foreign, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  delete cfg.token_lens;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const lens = cli('explain', '--model', foreign, '--logit-lens', '--json', TEXT);
  assert.equal(lens.code, 0, lens.err);
  const j = JSON.parse(lens.out);
  assert.equal(j.logitLens.layers, 0);
  assert.match(j.logitLens.note, /needs a model Token Lens wrote/);
  assert.equal(j.next[0].text, ' Lily', 'the rest of the analysis is there');
  assert.equal(cli('explain', '--model', foreign, '--attribution', 'occlusion', '--json', TEXT).code, 0);
  const grad = cli('explain', '--model', foreign, '--attribution', 'gradient', TEXT);
  assert.equal(grad.code, 2);
  assert.match(grad.err, /supports occlusion only/);
});
