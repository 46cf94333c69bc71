// Models whose weights live in external data files: they load, their prepared copies carry the data (hard
// links, or copies across file systems), and locations that reach outside the model folder are refused.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { decodeModel, encodeModel } from '../../src/core/onnx/builder';
import { llamaConfig } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { linkOrCopy } from '../../src/core/runtime/externalData';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-extdata-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TEXT = 'the quick brown fox jumps over the lazy dog';
const chars = charVocabulary(TEXT);
const config = llamaConfig({ n_embd: 32, d_ff: 48, n_layer: 2, n_head: 4, n_kv_head: 2, vocab_size: chars.length + 1,
  block_size: 64 });
const weights = randomWeights(config, 7);
const tokenizer = charTokenizerFiles(chars);

/**
 * A model folder with every large initializer moved to `onnx/model.onnx_data`; `tamper` may change the
 * location written into the ONNX file. `surgery`: the folder does not come from Token Lens, so it is prepared.
 */
async function externalModel(name: string, opts: { surgery: boolean; tamper?: string } = { surgery: true }): Promise<string> {
  const dir = path.join(tmp, name);
  await writeModelFolder(dir, { config, weights, tokenizer, attentionOutputs: !opts.surgery });
  const onnxFile = path.join(dir, 'onnx', 'model.onnx');
  const model = decodeModel(fs.readFileSync(onnxFile));
  const chunks: Buffer[] = [];
  let offset = 0;
  let first = true;
  for (const t of model.graph!.initializer!) {
    if (!t.rawData || t.rawData.length < 256) continue;
    chunks.push(Buffer.from(t.rawData));
    const location = first && opts.tamper ? opts.tamper : 'model.onnx_data';
    first = false;
    t.externalData = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(t.rawData.length) }];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    offset += t.rawData.length;
    t.rawData = new Uint8Array(0);
  }
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx_data'), Buffer.concat(chunks));
  fs.writeFileSync(onnxFile, encodeModel(model));
  if (opts.surgery) {
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    delete cfg.token_lens;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  }
  return dir;
}

async function losses(dir: string, cacheDir: string): Promise<(number | null)[]> {
  const s = await ModelSession.load(dir, { cacheDir });
  try {
    return (await s.analyze(TEXT)).tokens.map((t) => t.loss);
  } finally {
    await s.dispose();
  }
}

function preparedDataFile(cacheDir: string): string {
  const [key] = fs.readdirSync(path.join(cacheDir, 'prepared'));
  return path.join(cacheDir, 'prepared', key, 'onnx', 'model.onnx_data');
}

test('a model with external data loads through a prepared copy whose data is hard-linked', async () => {
  const inline = path.join(tmp, 'inline');
  await writeModelFolder(inline, { config, weights, tokenizer, attentionOutputs: true });
  const expected = await losses(inline, path.join(tmp, 'cache-inline'));
  const dir = await externalModel('external');
  const [onnxBytes, dataBytes] = ['model.onnx', 'model.onnx_data'].map((f) => fs.statSync(path.join(dir, 'onnx', f)).size);
  assert.ok(dataBytes > 2 * onnxBytes, `the weights did not move out of the ONNX file (${onnxBytes} + ${dataBytes} bytes)`);
  const cacheDir = path.join(tmp, 'cache-linked');
  assert.deepEqual(await losses(dir, cacheDir), expected);
  const data = preparedDataFile(cacheDir);
  assert.ok(fs.lstatSync(data).isFile(), 'the prepared data is a symlink');
  assert.equal(fs.statSync(data).nlink, 2, 'the prepared data is not a hard link to the original');
});

test('across file systems, where no link is possible, the data is copied', async (t) => {
  const shm = '/dev/shm';
  if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(tmp).dev) {
    t.skip('no second file system here (/dev/shm)');
    return;
  }
  const dir = await externalModel('external-xdev');
  const cacheDir = fs.mkdtempSync(path.join(shm, 'tl-extdata-cache-'));
  try {
    const inline = await losses(path.join(tmp, 'inline'), path.join(tmp, 'cache-inline'));
    assert.deepEqual(await losses(dir, cacheDir), inline);
    const data = preparedDataFile(cacheDir);
    assert.equal(fs.statSync(data).nlink, 1);
    assert.deepEqual(fs.readFileSync(data), fs.readFileSync(path.join(dir, 'onnx', 'model.onnx_data')));
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('when links are not allowed (Windows without the privilege), linkOrCopy copies', () => {
  const src = path.join(tmp, 'src.bin');
  fs.writeFileSync(src, 'weights');
  const denied = () => { throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' }); };
  assert.equal(linkOrCopy(src, path.join(tmp, 'copied', 'dest.bin'), denied), 'copied');
  assert.equal(fs.readFileSync(path.join(tmp, 'copied', 'dest.bin'), 'utf8'), 'weights');
  assert.equal(linkOrCopy(src, path.join(tmp, 'linked', 'dest.bin')), 'linked');
  assert.equal(fs.statSync(src).nlink, 2);
});

test('locations outside the model folder are refused with a message naming the file', async () => {
  const secret = path.join(tmp, 'secret.bin');
  fs.writeFileSync(secret, Buffer.alloc(1 << 16, 1));
  const cases: [string, string | (() => string), RegExp][] = [
    ['climbs', '../escape.bin', /stored at "\.\.\/escape\.bin", outside the model folder/],
    ['climbs-deep', 'sub/../../../secret.bin', /outside the model folder/],
    ['absolute', '/etc/passwd', /stored at "\/etc\/passwd", an absolute path/],
    ['windows', 'C:\\Windows\\win.ini', /an absolute path/],
  ];
  for (const [name, location, message] of cases) {
    const dir = await externalModel(name, { surgery: true, tamper: location as string });
    // The data it points at exists, so only the check stands between the loader and the file.
    fs.writeFileSync(path.join(dir, 'escape.bin'), Buffer.alloc(1 << 16, 1));
    await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, `cache-${name}`) }), (e: Error) => {
      assert.ok(e instanceof ModelLoadError, `${name}: ${e.stack}`);
      assert.match(e.message, message, name);
      assert.ok(e.message.startsWith(path.join(dir, 'onnx', 'model.onnx')), `${name}: ${e.message}`);
      return true;
    });
    assert.ok(!fs.existsSync(path.join(tmp, `cache-${name}`, 'prepared')) ||
      fs.readdirSync(path.join(tmp, `cache-${name}`, 'prepared')).length === 0, `${name}: a prepared copy was left`);
  }
});

test('a data file that is a symlink leading out of the folder is refused', async () => {
  const dir = await externalModel('symlinked');
  const outside = path.join(tmp, 'outside.bin');
  fs.renameSync(path.join(dir, 'onnx', 'model.onnx_data'), outside);
  fs.symlinkSync(outside, path.join(dir, 'onnx', 'model.onnx_data'));
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache-symlinked') }),
    (e: Error) => e instanceof ModelLoadError && e.message.includes(`a link to ${fs.realpathSync(outside)}, outside the model folder`));
  // A missing data file is named as such.
  const missing = await externalModel('missing');
  fs.rmSync(path.join(missing, 'onnx', 'model.onnx_data'));
  await assert.rejects(ModelSession.load(missing, { cacheDir: path.join(tmp, 'cache-missing') }),
    (e: Error) => e instanceof ModelLoadError && /"model\.onnx_data", which is missing/.test(e.message));
});

test('a folder loaded without preparation: onnxruntime refuses an escaping location, and the message names the folder', async () => {
  const dir = await externalModel('direct', { surgery: false, tamper: '../escape.bin' });
  fs.writeFileSync(path.join(dir, 'onnx', '..', 'escape.bin'), Buffer.alloc(1 << 16, 1));
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache-direct') }),
    (e: Error) => e instanceof ModelLoadError && e.message.includes(dir) && /escapes model directory/.test(e.message));
});
