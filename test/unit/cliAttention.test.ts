// explain --json --attention at the full 1,024-token context of a GPT-2-small-shaped model (random weights,
// written by `token-lens write-random`), run as a user would. Every layer and head is 12 x 12 x 1,024^2 numbers:
// 1.5 GB of JSON, which as one string is past V8's longest ("Invalid string length"). It is streamed, a head at a
// time; one layer (150 MB of JSON) keeps the test within the suite's time limit on a busy machine.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { sourceCliArgs } from './runCli';

const root = path.resolve(__dirname, '../..');
const folder = path.join(root, '.cache', 'test-models', 'gpt2-small-ctx1024');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-att-'));
const textFile = path.join(tmp, 'story.txt');
const CONTEXT = 1024;

// The prepared copy of the 500 MB model is kept between runs.
const env = { ...process.env, TOKEN_LENS_CACHE: path.join(root, '.cache', 'test-models', 'cache') };

before(() => {
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    const r = spawnSync(process.execPath, sourceCliArgs('write-random', '--arch', 'gpt2', '--preset', 'gpt2-small', '--out', folder), { encoding: 'utf8', cwd: root, env });
    assert.equal(r.status, 0, r.stderr);
  }
  // Longer than the context: the last 1,024 tokens are analysed.
  const story = 'The old lighthouse keeper climbed the spiral stairs every evening, counting each step out loud. ';
  fs.writeFileSync(textFile, story.repeat(90));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('a layer of every head at 1,024 tokens streams out, exact', { timeout: 900_000 }, async () => {
  const child = spawn(process.execPath, sourceCliArgs('explain', '--model', folder, '--offline', '--json', '--attention-layers', '11', '--file', textFile),
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  // The start of the output, up to the end of the first head (about 10 MB at 1,024 tokens).
  let head = '';
  let tail = '';
  let stderr = '';
  let boundaries = 0;
  let carry = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    bytes += chunk.length;
    if (head.length < 16 * 2 ** 20) head += chunk;
    tail = (tail + chunk).slice(-4096);
    // Between two rows, heads or layers: "],[" (counted across chunk boundaries too).
    const s = carry + chunk;
    for (let i = s.indexOf('],['); i >= 0; i = s.indexOf('],[', i + 3)) boundaries++;
    carry = s.slice(-2);
  });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /Invalid string length/);
  assert.ok(bytes > 100 * 2 ** 20, `${bytes} characters`);
  assert.ok(head.startsWith('{"model":'), head.slice(0, 100));
  assert.match(head, /"attention":\{"layers":12,"heads":12,"layerIndices":\[11\],"weights":\[\[\[\[/);
  assert.ok(tail.endsWith(']]]]}}\n'), tail.slice(-100));
  // The first head of the layer, exact: 1,024 rows of 1,024, causal, each a distribution.
  const from = head.indexOf('"weights":[[[') + '"weights":[['.length;
  const to = head.indexOf(']]', from) + 2;
  const m: number[][] = JSON.parse(head.slice(from, to));
  assert.equal(m.length, CONTEXT);
  for (let q = 0; q < CONTEXT; q++) {
    assert.equal(m[q].length, CONTEXT);
    let sum = 0;
    for (let k = 0; k < CONTEXT; k++) {
      if (k > q && m[q][k] !== 0) assert.fail(`token ${q} attends to the later token ${k}`);
      sum += m[q][k];
    }
    if (Math.abs(sum - 1) > 1e-4) assert.fail(`row ${q} sums to ${sum}`);
  }
  // 12 heads of 1,024 rows: 1,023 boundaries in each head, 11 between heads.
  assert.equal(boundaries, 12 * (CONTEXT - 1) + 11);
});
