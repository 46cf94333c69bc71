// The README's `import` examples, one per source, run as written (on the checkpoints of test/fixtures/import
// they name), each followed by an explain of the model it wrote: the documentation cannot drift from the CLI.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-readme-import-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Importing checkpoints'), readme.indexOf('\n## ', readme.indexOf('## Importing checkpoints') + 3));
const examples = section.split('\n').filter((l) => l.startsWith('node dist/cli.js import '));

test('the README documents one import example per source', () => {
  const from = examples.map((l) => l.match(/--from (\S+)/)![1]);
  for (const want of ['/gpt2', '/llama', '/llama3', '/qwen2', '/mistral', '/gpt_neox', '/llama-bin', 'nanogpt-char/ckpt.pt',
    'nanogpt-gpt2/ckpt.pt', 'stories260K.bin']) {
    assert.ok(from.some((f) => f.endsWith(want)), `no example imports …${want}: ${from.join(' ')}`);
  }
  assert.ok(examples.some((l) => l.includes('meta.pkl')) && examples.some((l) => l.includes('--tokenizer gpt2')));
});

for (const line of examples) {
  test(`README: ${line.slice('node dist/cli.js '.length)}`, () => {
    const args = line.split(/\s+/).slice(2);
    const at = args.indexOf('--out');
    const out = path.join(tmp, args[at + 1]);
    args[at + 1] = out;
    const r = cli(...args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^wrote /);
    const e = cli('explain', '--model', out, '--json', 'the cat sat on the mat');
    assert.equal(e.code, 0, e.err);
    assert.ok(Number.isFinite(JSON.parse(e.out).meanLoss));
  });
}
