// `token-lens import`, run as a user would (through tsx on the sources): one checkpoint of each source,
// then explain and generate on the result; and the messages and exit codes for checkpoints that do not fit.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const FIX = path.join(root, 'test/fixtures/import');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-import-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

test('import: a Hugging Face folder, a nanoGPT ckpt.pt and a llama2.c .bin, then explain and generate', () => {
  const cases: [string, string[], RegExp][] = [
    ['qwen2', ['--from', path.join(FIX, 'qwen2')], /^wrote .*qwen2 \(huggingface qwen2: 2 layers, 4 heads, width 32, vocab \d+, context 64\)$/m],
    ['shakespeare', ['--from', path.join(FIX, 'nanogpt-char', 'ckpt.pt')], /^wrote .*shakespeare \(nanogpt gpt2: 2 layers, 4 heads, width 32, vocab 30, context 32\)$/m],
    ['stories', ['--from', path.join(root, 'vendor/stories260K/stories260K.bin'), '--tokenizer', path.join(root, 'vendor/stories260K/tok512.bin')],
      /^wrote .*stories \(llama2c llama: 5 layers, 8 heads, width 64, vocab 512, context 512\)$/m],
  ];
  for (const [name, args, message] of cases) {
    const out = path.join(tmp, name);
    const r = cli('import', ...args, '--out', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, message);
    const e = cli('explain', '--model', out, '--json', '--attention', 'the cat sat. ');
    assert.equal(e.code, 0, e.err);
    const json = JSON.parse(e.out);
    assert.ok(json.tokens.length > 3 && Number.isFinite(json.meanLoss) && json.attention.layers > 0, name);
    const g = cli('generate', '--model', out, '--greedy', '--max-new-tokens', '5', 'the ');
    assert.equal(g.code, 0, g.err);
  }
});

test('train and LoRA fine-tune imported models of every family: the loss falls', () => {
  const file = path.join(tmp, 'story.txt');
  fs.writeFileSync(file, 'Once upon a time, the cat sat on the mat. The cat was happy. '.repeat(4));
  for (const [name, from, extra] of [
    ['gpt2', path.join(FIX, 'gpt2'), ['--lora', '4']], ['gpt_neox', path.join(FIX, 'gpt_neox'), ['--lora', '4']],
    ['llama3', path.join(FIX, 'llama3'), []], ['mistral', path.join(FIX, 'mistral'), ['--lora', '4']],
    ['nanogpt', path.join(FIX, 'nanogpt-char', 'ckpt.pt'), []],
  ] as [string, string, string[]][]) {
    const model = path.join(tmp, `train-${name}`);
    const r = cli('import', '--from', from, '--out', model);
    assert.equal(r.code, 0, r.err);
    const t = cli('train', '--file', file, '--from', model, '--steps', '8', '--lr', '0.01', '--batch', '2', '--block', '12',
      ...extra, '--out', `${model}-tuned`, '--json');
    assert.equal(t.code, 0, `${name}: ${t.err}`);
    const losses = t.out.trim().split('\n').map((l) => JSON.parse(l).loss as number);
    assert.equal(losses.length, 8, name);
    assert.ok(losses.every(Number.isFinite) && losses.at(-1)! < losses[0], `${name}: ${losses.join(' ')}`);
    const e = cli('explain', '--model', `${model}-tuned`, '--json', 'the cat sat');
    assert.equal(e.code, 0, `${name}: ${e.err}`);
  }
});

test('import: refusals name the problem, exit 1, and write nothing', () => {
  const out = path.join(tmp, 'refused');
  const t5 = path.join(tmp, 't5');
  fs.cpSync(path.join(FIX, 'gpt2'), t5, { recursive: true });
  fs.writeFileSync(path.join(t5, 'config.json'), JSON.stringify({ model_type: 't5' }));
  for (const [args, message] of [
    [['--from', t5], /model_type "t5", which Token Lens cannot import; supported: gpt2, llama, qwen2, mistral, gpt_neox, bert, roberta/],
    [['--from', path.join(FIX, 'bad', 'runs-code.pt')], /never runs code from a pickle/],
    [['--from', path.join(root, 'vendor/stories260K/stories260K.bin')], /needs its tokenizer\.bin: --tokenizer FILE/],
    [['--from', path.join(FIX, 'nanogpt-char')], /For nanoGPT, give the file itself: --from .*ckpt\.pt/],
    [['--from', path.join(FIX, 'nanogpt-char', 'ckpt.pt'), '--tokenizer', 'gpt2'], /has 50257 tokens but the model's vocabulary has 30/],
  ] as [string[], RegExp][]) {
    const r = cli('import', ...args, '--out', out);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, message);
    assert.ok(!fs.existsSync(out));
  }
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('importing')), []);
  const usage = cli('import', '--out', out);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--from is required/);
});
