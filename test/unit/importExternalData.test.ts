// Models too large for one .onnx file (a protobuf message stops at 2 GB) keep their weights in
// onnx/model.onnx_data. TOKEN_LENS_EXTERNAL_DATA_BYTES lowers the size at which that happens, so a tiny
// checkpoint takes the same path as Llama 3.2 1B in float32: import, explain, generate, fine-tune.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { decodeModel } from '../../src/core/onnx/builder';
import { readModelFolderConfig, readModelFolderWeights } from '../../src/core/models/folder';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const FIX = path.join(root, 'test/fixtures/import');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-extdata-import-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs a command that must succeed, with more environment variables; returns what it printed. */
function cli(env: Record<string, string>, ...args: string[]): string {
  const r = cliRunner({ cache: path.join(tmp, 'cache'), env })(...args);
  assert.equal(r.code, 0, r.err);
  return r.out;
}

const SMALL = { TOKEN_LENS_EXTERNAL_DATA_BYTES: '4096' };
const onnxDir = (model: string) => path.join(model, 'onnx');

test('import past the external-data size: weights in model.onnx_data, the same numbers as the single-file import', () => {
  const inline = path.join(tmp, 'inline'), external = path.join(tmp, 'external');
  cli({}, 'import', '--from', path.join(FIX, 'llama3'), '--out', inline);
  cli(SMALL, 'import', '--from', path.join(FIX, 'llama3'), '--out', external);
  assert.deepEqual(fs.readdirSync(onnxDir(inline)), ['model.onnx']);
  assert.deepEqual(fs.readdirSync(onnxDir(external)).sort(), ['model.onnx', 'model.onnx_data']);
  const [big, small, data] = [path.join(onnxDir(inline), 'model.onnx'), path.join(onnxDir(external), 'model.onnx'),
    path.join(onnxDir(external), 'model.onnx_data')].map((f) => fs.statSync(f).size);
  assert.ok(small < big / 4 && data > big * 0.8, `model.onnx ${small} bytes, data ${data}, single file ${big}`);
  const model = decodeModel(fs.readFileSync(path.join(onnxDir(external), 'model.onnx')));
  const embedding = model.graph!.initializer!.find((t) => t.name === 'tok_emb')!;
  assert.equal(embedding.externalData!.find((e) => e.key === 'location')!.value, 'model.onnx_data');
  const config = JSON.parse(fs.readFileSync(path.join(external, 'config.json'), 'utf8'));
  assert.deepEqual(config['transformers.js_config'], { use_external_data_format: { 'model.onnx': 1 } });

  // The weights read back are the same, bit for bit.
  const a = readModelFolderWeights(inline, readModelFolderConfig(inline));
  const b = readModelFolderWeights(external, readModelFolderConfig(external));
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, name);

  const text = 'Once upon a time, the cat sat on the mat.';
  const explain = (m: string) => JSON.parse(cli({}, 'explain', '--model', m, '--json', '--attention', text));
  const [x, y] = [explain(inline), explain(external)];
  assert.deepEqual(y.tokens, x.tokens);
  assert.deepEqual(y.attention, x.attention);
  const generate = (m: string) => cli({}, 'generate', '--model', m, '--greedy', '--max-new-tokens', '6', 'the cat');
  assert.equal(generate(external), generate(inline));
});

test('fine-tuning a model with external data reads its weights and writes the tuned model the same way', () => {
  const from = path.join(tmp, 'tune-from'), tuned = path.join(tmp, 'tuned');
  cli(SMALL, 'import', '--from', path.join(FIX, 'qwen2'), '--out', from);
  const file = path.join(tmp, 'story.txt');
  fs.writeFileSync(file, 'Once upon a time, the cat sat on the mat. The cat was happy. '.repeat(4));
  const out = cli(SMALL, 'train', '--file', file, '--from', from, '--steps', '6', '--lr', '0.01', '--batch', '2', '--block', '12',
    '--lora', '4', '--out', tuned, '--json');
  const losses = out.trim().split('\n').map((l) => JSON.parse(l).loss as number);
  assert.ok(losses.at(-1)! < losses[0], losses.join(' '));
  assert.ok(fs.existsSync(path.join(onnxDir(tuned), 'model.onnx_data')));
  // Written again without the lowered size, the same folder holds one file and no stale data beside it.
  cli({}, 'import', '--from', path.join(FIX, 'qwen2'), '--out', from);
  assert.deepEqual(fs.readdirSync(onnxDir(from)), ['model.onnx']);
  const e = JSON.parse(cli({}, 'explain', '--model', tuned, '--json', 'the cat sat'));
  assert.ok(Number.isFinite(e.meanLoss));
});
