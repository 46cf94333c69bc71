// The built-in model: `npm run build` imports vendor/stories260K into dist/models/stories260K (once per change of
// its sources), and the CLI uses it when --model is omitted. Needs `npm run build` (dist/cli.js).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
// @ts-expect-error a plain .mjs build script without types
import { BUILTIN_MODEL_DIR, importBuiltinModel } from '../../scripts/builtinModel.mjs';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const cliJs = path.join(root, 'dist', 'cli.js');
const PROMPT = 'Once upon a time, there was a little girl named';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-builtin-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const run = (cli: string, ...args: string[]) => cliRunner({ cache: path.join(tmp, 'cache'), built: cli })(...args);

test('the built CLI explains with the built-in stories260K when --model is omitted, offline', () => {
  const r = run(cliJs, 'explain', '--offline', '--json', '--top-k', '3', PROMPT);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.model, path.join(root, BUILTIN_MODEL_DIR));
  assert.equal(j.next[0].text, ' Lily');
  // Every character of the prompt was analysed (no window cut, no lost text).
  assert.equal(j.tokens.slice(1).map((t: { start: number; end: number }) => PROMPT.slice(t.start, t.end)).join(''), PROMPT);
});

test('the build imports the vendored files once, carries their license, and imports again when they change', () => {
  // A copy of the repository's parts the step reads, so the real dist/ is left alone.
  const fake = path.join(tmp, 'repo');
  fs.cpSync(path.join(root, 'vendor', 'stories260K'), path.join(fake, 'vendor', 'stories260K'), { recursive: true });
  fs.mkdirSync(path.join(fake, 'dist'));
  // The CLI and the worker-thread bundles it starts.
  for (const f of fs.readdirSync(path.dirname(cliJs)).filter((f) => f.endsWith('.js'))) {
    fs.copyFileSync(path.join(path.dirname(cliJs), f), path.join(fake, 'dist', f));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(fake, 'node_modules'));

  assert.equal(importBuiltinModel(fake), 'imported');
  const folder = path.join(fake, BUILTIN_MODEL_DIR);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) {
    assert.ok(fs.existsSync(path.join(folder, f)), `${f} was not written`);
  }
  const license = fs.readFileSync(path.join(folder, 'LICENSE.md'), 'utf8');
  assert.match(license, /MIT License/);
  assert.match(license, /Copyright \(c\) 2023 Andrej Karpathy/);
  const onnx = fs.statSync(path.join(folder, 'onnx', 'model.onnx')).mtimeMs;

  assert.equal(importBuiltinModel(fake), 'up to date');
  assert.equal(fs.statSync(path.join(folder, 'onnx', 'model.onnx')).mtimeMs, onnx, 'an up-to-date model was rewritten');

  fs.appendFileSync(path.join(fake, 'vendor', 'stories260K', 'README.md'), '\n');
  assert.equal(importBuiltinModel(fake), 'imported');
  // The imported folder is a model the CLI runs: the same prediction as the repository's built-in one.
  const r = run(path.join(fake, 'dist', 'cli.js'), 'explain', '--offline', '--json', '--top-k', '1', PROMPT);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).model, folder);
  assert.equal(JSON.parse(r.out).next[0].text, ' Lily');
});
