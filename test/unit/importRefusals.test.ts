// Checkpoints that do not fit, through `token-lens import` as a user runs it: each is refused with its problem
// named, exit code 1, and neither --out nor a staging folder is left behind; a model folder already at --out
// stays as it was.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { readSafetensorsRef, writeSafetensorsRef } from '../reference/safetensors';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const FIX = path.join(root, 'test/fixtures/import');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-import-refusals-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

/** A copy of a fixture, broken by `edit`. */
function broken(name: string, fixture: string, edit: (dir: string) => void): string {
  const dir = path.join(tmp, 'src', name);
  fs.cpSync(path.join(FIX, fixture), dir, { recursive: true });
  edit(dir);
  return dir;
}

const cases: [string, () => string, RegExp][] = [
  ['a missing tensor', () => broken('missing-tensor', 'qwen2', (d) => {
    const file = path.join(d, 'model.safetensors');
    const t = readSafetensorsRef(file);
    writeSafetensorsRef(file, [...t].filter(([n]) => n !== 'model.layers.1.mlp.down_proj.weight')
      .map(([n, x]) => [n, { shape: x.shape, data: Float32Array.from(x.data) }]));
  }), /has no tensor model\.layers\.1\.mlp\.down_proj\.weight\./],
  ['a missing safetensors shard', () => broken('missing-shard', 'llama', (d) => fs.rmSync(path.join(d, 'model-00002-of-00002.safetensors'))),
    /The shard model-00002-of-00002\.safetensors listed in model\.safetensors\.index\.json is missing/],
  ['a missing pytorch_model.bin shard', () => broken('missing-bin-shard', 'llama-bin', (d) => fs.rmSync(path.join(d, 'pytorch_model-00001-of-00002.bin'))),
    /The shard pytorch_model-00001-of-00002\.bin listed in pytorch_model\.bin\.index\.json is missing/],
  ['a shape mismatch', () => broken('shape', 'gpt_neox', (d) => {
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 100 }));
  }), /Tensor gpt_neox\.layers\.0\.mlp\.dense_h_to_4h\.weight in .* has shape \[128, 32\], but the config implies \[100, 32\]/],
  ['a truncated safetensors file', () => broken('truncated', 'gpt2', (d) => {
    const file = path.join(d, 'model.safetensors');
    fs.truncateSync(file, fs.statSync(file).size - 1000);
  }), /model\.safetensors is not a valid safetensors file: tensor .* \(truncated\)/],
  ['an unknown dtype', () => broken('dtype', 'gpt2', (d) => {
    const file = path.join(d, 'model.safetensors');
    const t = readSafetensorsRef(file);
    writeSafetensorsRef(file, [...t].map(([n, x]) => [n, { shape: x.shape, data: Float32Array.from(x.data), dtype: n === 'h.0.ln_1.weight' ? 'Q4_K' : undefined }]));
  }), /tensor h\.0\.ln_1\.weight has the unknown dtype "Q4_K"/],
  ['a pickle that calls a function no checkpoint uses', () => path.join(FIX, 'bad', 'runs-code.pt'),
    /refers to (posix|os)\.system, which a model checkpoint does not need \(Token Lens never runs code from a pickle\)/],
  ['an unsupported RoPE scaling', () => broken('yarn', 'llama3', (d) => {
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, rope_scaling: { rope_type: 'yarn', factor: 4 } }));
  }), /rope_scaling of type "yarn" \(Token Lens runs "llama3", "linear" and "dynamic"\) is not supported/],
];

test('refused checkpoints name their problem and write nothing; a model already at --out is kept', () => {
  const existing = path.join(tmp, 'existing');
  assert.equal(cli('import', '--from', path.join(FIX, 'gpt2'), '--out', existing).code, 0);
  const before = fs.readdirSync(existing).map((f) => [f, fs.statSync(path.join(existing, f)).mtimeMs]);
  for (const [what, make, message] of cases) {
    const from = make();
    for (const out of [path.join(tmp, 'new'), existing]) {
      const r = cli('import', '--from', from, '--out', out);
      assert.equal(r.code, 1, `${what}: ${r.err}`);
      assert.match(r.err, message, what);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'new')), `${what}: --out was written`);
    assert.deepEqual(fs.readdirSync(existing).map((f) => [f, fs.statSync(path.join(existing, f)).mtimeMs]), before, `${what}: the old model changed`);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('importing')), [], `${what}: a staging folder is left`);
  }
});
