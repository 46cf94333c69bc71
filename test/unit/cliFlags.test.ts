// The command line refuses bad numbers and non-text files with clear messages, before any work starts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendored = path.resolve(root, 'vendor/stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-flags-'));
const model = path.join(tmp, 'stories260K');
const story = path.join(tmp, 'story.txt');

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

before(() => {
  const r = cli('import-llama2c', '--checkpoint', path.join(vendored, 'stories260K.bin'), '--tokenizer', path.join(vendored, 'tok512.bin'), '--out', model);
  assert.equal(r.code, 0, r.err);
  fs.writeFileSync(story, 'Once upon a time, there was a little girl named Lily. She liked to play outside.\n');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function refused(args: string[], message: RegExp) {
  const r = cli(...args);
  assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.out}${r.err}`);
  assert.match(r.err, message, args.join(' '));
  assert.equal(r.out, '', `${args.join(' ')} printed a result`);
}

test('generate: a temperature that is not a positive number is refused', () => {
  refused(['generate', '--model', model, '--temperature', 'abc', 'Once'], /--temperature must be a number > 0, got "abc"/);
  refused(['generate', '--model', model, '--temperature=-1', 'Once'], /--temperature must be a number > 0, got "-1"/);
  refused(['generate', '--model', model, '--temperature', '0', 'Once'], /--temperature must be a number > 0/);
  refused(['generate', '--model', model, '--temperature', 'Infinity', 'Once'], /--temperature must be a number > 0/);
  refused(['generate', '--model', model, '--greedy', '--temperature', '0.5', 'Once'], /--greedy or --temperature, not both/);
  refused(['generate', '--model', model, '--max-new-tokens', '2.5', 'Once'], /--max-new-tokens must be an integer >= 1, got "2.5"/);
  refused(['generate', '--model', model, '--max-new-tokens', '1e3', 'Once'], /--max-new-tokens must be an integer/);
  refused(['generate', '--model', model, '--max-new-tokens', '', 'Once'], /--max-new-tokens must be an integer/);
  const ok = cli('generate', '--model', model, '--temperature', '0.7', '--max-new-tokens', '5', 'Once upon a time');
  assert.equal(ok.code, 0, ok.err);
  assert.ok(ok.out.trim().length > 0);
});

test('train: every number flag is checked before anything is written', () => {
  const out = path.join(tmp, 'never');
  const base = ['train', '--file', story, '--out', out];
  refused([...base, '--steps', '2.5'], /--steps must be an integer >= 0, got "2.5"/);
  refused([...base, '--steps', '0x10'], /--steps must be an integer/);
  refused([...base, '--lr', 'abc'], /--lr must be a number > 0, got "abc"/);
  refused([...base, '--lr=-0.1'], /--lr must be a number > 0/);
  refused([...base, '--batch', '0'], /--batch must be an integer >= 1, got "0"/);
  refused([...base, '--block', '-3'], /--block must be an integer|--block/);
  refused([...base, '--eval-every', '1.5'], /--eval-every must be an integer >= 1/);
  refused([...base, '--checkpoint-every', 'x'], /--checkpoint-every must be an integer >= 1/);
  refused([...base, '--threads', '0'], /--threads must be an integer from 1 to 256/);
  refused([...base, '--max-memory-mb', '10'], /--max-memory-mb must be an integer >= 64/);
  refused([...base, '--seed', '99999999999'], /--seed must be an integer from 0 to 4294967295/);
  refused([...base, '--warmup', '-1'], /--warmup/);
  refused([...base, '--clip', 'abc'], /--clip must be a number >= 0, got "abc"/);
  refused([...base, '--lora', '1.5', '--from', model], /--lora must be an integer >= 0/);
  assert.ok(!fs.existsSync(out), 'a refused run wrote its output folder');
});

test('explain and write-random: integers where integers are expected', () => {
  refused(['explain', '--model', model, '--top-k', '0', 'Once'], /--top-k must be an integer >= 1, got "0"/);
  refused(['explain', '--model', model, '--top-k', 'ten', 'Once'], /--top-k must be an integer >= 1, got "ten"/);
  refused(['write-random', '--arch', 'llama', '--preset', 'stories260K', '--out', path.join(tmp, 'r'), '--seed', '-1'], /--seed/);
});

test('--top-k beyond the vocabulary is capped, and says so on stderr and in the JSON', () => {
  const r = cli('explain', '--model', model, '--json', '--top-k', '1000', 'Once upon a time');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /--top-k 1000 is more than the model's vocabulary: showing all 512 tokens/);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.topKCapped, { requested: 1000, used: 512 });
  assert.equal(j.next.length, 512);
  const inRange = cli('explain', '--model', model, '--json', '--top-k', '512', 'Once upon a time');
  assert.equal(inRange.code, 0, inRange.err);
  assert.equal(JSON.parse(inRange.out).topKCapped, undefined);
  assert.doesNotMatch(inRange.err, /top-k/);
  const table = cli('explain', '--model', model, '--top-k', '600', 'Once upon a time');
  assert.equal(table.code, 0, table.err);
  assert.match(table.err, /showing all 512 tokens/);
});

test('a file that is not valid UTF-8: explain and train refuse it with the same message', () => {
  const latin1 = path.join(tmp, 'latin1.txt');
  fs.writeFileSync(latin1, Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6f, 0x6b, 0x0a]));   // "café ok" in Latin-1
  const message = `${latin1} is not valid UTF-8 text (byte 0xe9 at offset 3): save it as UTF-8.`;
  const explain = cli('explain', '--model', model, '--file', latin1);
  const train = cli('train', '--file', latin1, '--steps', '1', '--out', path.join(tmp, 'latin1-out'));
  for (const [what, r] of [['explain', explain], ['train', train]] as const) {
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.err}`);
    assert.equal(r.err.trim(), `token-lens ${what}: ${message}`);
    assert.equal(r.out, '');
  }
  assert.ok(!fs.existsSync(path.join(tmp, 'latin1-out')));
  // A truncated multi-byte sequence at the very end is invalid too.
  const cut = path.join(tmp, 'cut.txt');
  fs.writeFileSync(cut, Buffer.concat([Buffer.from('Lily likes tea '), Buffer.from('☕').subarray(0, 2)]));
  assert.match(cli('explain', '--model', model, '--file', cut).err, /not valid UTF-8 text \(byte 0xe2 at offset 15\)/);
});
