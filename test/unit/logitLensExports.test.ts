// The logit lens on ONNX exports Token Lens did not write (plain, older opset, merged `If`, float16 and
// fused-attention layouts of test/fixtures/hub): surgery finds the stream after each block and the export's
// own final norm and unembedding. Checked against torch's logit lens of the same weights
// ({gpt2,llama,llama16}.lens.json, make_hub_fused.py), and the last layer against the model's own output.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { logitLens } from '../../src/core/lenses/logitLens';
import { LensUnavailableError } from '../../src/core/lenses/projectModel';
import { FixtureHub, HUB, reference, serveFixtureHub } from './hubLayouts';
import { BUILT_CLI, cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-lens-exports-'));
const cacheDir = path.join(tmp, 'cache');
let hub: FixtureHub;
before(async () => { hub = await serveFixtureHub(tmp); });
after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface TorchLens { text: string; top: { id: number; prob: number }[][][] }
const torchLens = (family: string): TorchLens => JSON.parse(fs.readFileSync(path.join(HUB, `${family}.lens.json`), 'utf8'));

// float32: onnxruntime against torch, as for the logits (seen up to 4.9e-7). float16: one rounding of 2^-11
// per op through two blocks; seen up to 5.2e-3 against torch and 7.6e-4 against the model's own float16
// output, top-1 always the same.
const EXPORTS = [
  ['gpt2-opset13', 'gpt2', 1e-5], ['gpt2-opset11', 'gpt2', 1e-5], ['gpt2-merged', 'gpt2', 1e-5],
  ['gpt2-attention', 'gpt2', 1e-5], ['gpt2-mha', 'gpt2', 1e-5], ['llama-opset14', 'llama', 1e-5],
  ['llama-rotary-gqa', 'llama', 1e-5], ['llama16-gqa', 'llama16', 1e-5],
  ['gpt2-merged-fp16', 'gpt2', 1e-2], ['llama-fp16', 'llama', 1e-2],
] as const;

for (const [name, family, tol] of EXPORTS) {
  test(`logit lens on ${name}: every layer is torch's lens of the same weights, the last one the model's own output`, async () => {
    const session = await hub.load(name, cacheDir);
    try {
      const ref = torchLens(family);
      const lens = await logitLens(session, ref.text, 5);
      const T = reference(family).ids.length;
      assert.equal(lens.layers, 2);
      assert.equal(lens.top.length, 2);
      let worst = 0;
      for (let l = 0; l < 2; l++) {
        assert.equal(lens.top[l].length, T);
        for (let t = 0; t < T; t++) {
          const cell = lens.top[l][t];
          assert.equal(cell.length, 5);
          assert.equal(cell[0].id, ref.top[l][t][0].id, `top-1 at layer ${l}, position ${t}`);
          // Ids below the top-1 can swap places when their probabilities tie within rounding: compare by id.
          for (const c of ref.top[l][t]) {
            const mine = cell.find((x) => x.id === c.id);
            if (mine) worst = Math.max(worst, Math.abs(mine.prob - c.prob));
            else assert.ok(c.prob <= cell[4].prob + tol, `id ${c.id} missing at layer ${l}, position ${t}`);
          }
        }
      }
      assert.ok(worst <= tol, `lens probabilities differ from torch by ${worst}`);
      // The head reads the unembedding (3,840 bytes and more here) from the model file, not from a copy.
      assert.ok(fs.statSync(path.join(session.folder, 'onnx', 'lens_head.onnx')).size < 3000, 'the head shares the weights');
      // The last layer is the model's own distribution, as analyze() computes it from the logits.
      const a = await session.analyze(ref.text);
      for (let t = 0; t < T; t++) {
        const row = await a.row(t);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        for (const c of lens.top[1][t]) assert.ok(Math.abs(c.prob - Math.exp(row[c.id] - lse)) <= tol);
      }
    } finally {
      await session.dispose();
    }
  });
}

test('an export whose blocks cannot be told apart says so instead of showing a wrong lens', async () => {
  const dir = path.join(tmp, 'local-three-layers');
  fs.cpSync(path.join(HUB, 'gpt2-opset13'), dir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, n_layer: 3 }));
  const session = await hub.load('local-three-layers', cacheDir);
  try {
    assert.equal(session.info.attention, 'available');
    await assert.rejects(logitLens(session, 'the fox', 3), (e: Error) => e instanceof LensUnavailableError
      && /could not be found in this export \(found 5 normalisations for 3 blocks/.test(e.message));
  } finally {
    await session.dispose();
  }
});

test('explain --logit-lens --json on a GroupQueryAttention export: top[L-1] is the model\'s own next-token distribution (CLI)', () => {
  const cli = cliRunner({ cache: path.join(tmp, 'cli-cache'), built: BUILT_CLI });
  const j = cli.json('explain', '--model', path.join(HUB, 'llama16-gqa'), '--logit-lens', '--top-k', '4', '--json', 'the lazy dog');
  const T = j.tokens.length;
  assert.equal(j.logitLens.layers, 2);
  assert.equal(j.logitLens.top.length, 2);
  for (const layer of j.logitLens.top) {
    assert.equal(layer.length, T);
    for (const cell of layer) assert.equal(cell.length, 4);
  }
  const last = j.logitLens.top[1][T - 1];
  assert.deepEqual(last.map((c: { id: number; text: string }) => [c.id, c.text]), j.next.map((c: { id: number; text: string }) => [c.id, c.text]));
  last.forEach((c: { prob: number }, k: number) => assert.ok(Math.abs(c.prob - j.next[k].prob) < 1e-5));
});
