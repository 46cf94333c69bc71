// Both lenses from the CLI on a GPT-2-family model: `write-random --arch gpt2 --preset gpt2-tiny` (2 blocks,
// learned positions, LayerNorm, GPT-2's real BPE of 50,257 tokens, no BOS), as a user runs them. Needs `npm run build`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BUILT_CLI, cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-lenses-gpt2-'));
const model = path.join(tmp, 'gpt2-tiny');
const TEXT = 'Once upon a time, there was a little girl named';
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache'), built: BUILT_CLI });

before(() => {
  const r = cli('write-random', '--arch', 'gpt2', '--preset', 'gpt2-tiny', '--out', model);
  assert.equal(r.code, 0, r.err);
});

test('GPT-2 BPE: --logit-lens gives one row per block over every token, the last row is the model\'s own distribution', () => {
  const j = cli.json('explain', '--model', model, '--logit-lens', '--top-k', '3', '--json', TEXT);
  // GPT-2 adds no BOS: the tokens are the BPE pieces of the text.
  assert.deepEqual(j.tokens.map((t: { text: string }) => t.text),
    ['Once', ' upon', ' a', ' time', ',', ' there', ' was', ' a', ' little', ' girl', ' named']);
  const lens = j.logitLens;
  assert.equal(lens.layers, 2);
  assert.equal(lens.top.length, 2);
  for (const row of lens.top) assert.equal(row.length, j.tokens.length);
  const last = lens.top[1][j.tokens.length - 1];
  assert.deepEqual(last.map((c: { id: number }) => c.id), j.next.map((c: { id: number }) => c.id));
  last.forEach((c: { prob: number }, k: number) => assert.ok(Math.abs(c.prob - j.next[k].prob) < 1e-5));
  assert.equal(lens.decisionDepth.length, j.tokens.length);
});

test('GPT-2 BPE: occlusion of a word equals re-running without it; integrated gradients are complete', () => {
  const target = ' girl';
  const occ = cli.json('explain', '--model', model, '--attribution', 'occlusion', '--target', target, '--json', TEXT).attribution;
  assert.equal(occ.target.text, target);
  // " little" is token 8; the text without it tokenizes into the other tokens unchanged.
  const without = cli.json('explain', '--model', model, '--attribution', 'occlusion', '--target', target, '--json',
    'Once upon a time, there was a girl named').attribution;
  assert.ok(Math.abs(occ.scores[8] - (occ.value - without.value)) < 1e-4, `${occ.scores[8]} vs ${occ.value - without.value}`);
  const ig = cli.json('explain', '--model', model, '--attribution', 'integrated-gradients', '--target', target, '--contrast', ' boy',
    '--steps', '32', '--json', TEXT).attribution;
  assert.equal(ig.contrast.text, ' boy');
  const sum = ig.scores.reduce((s: number, x: number) => s + x, 0);
  assert.ok(Math.abs(sum - (ig.value - ig.baselineValue)) <= 0.01 * Math.abs(ig.value - ig.baselineValue),
    `sum ${sum} vs ${ig.value - ig.baselineValue}`);
});
