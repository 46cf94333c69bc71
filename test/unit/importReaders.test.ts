// Checkpoint readers against the committed fixtures and an independent reader (test/reference), and their
// messages on broken or hostile files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metaPklTokenizerFiles, readMetaPkl } from '../../src/core/importers/metaPkl';
import { tokenizerIdCount } from '../../src/core/importers/imported';
import { loadTokenizer } from '../../src/core/tokenizers/load';
import { unpickle } from '../../src/core/importers/pickle';
import { openSafetensors, openShardedSafetensors } from '../../src/core/importers/safetensors';
import { readTorchCheckpoint, TorchTensor } from '../../src/core/importers/torchCheckpoint';
import { openZip } from '../../src/core/importers/zip';
import { readSafetensorsRef, writeSafetensorsRef } from '../reference/safetensors';

const FIX = join(__dirname, '..', 'fixtures', 'import');
const tmp = () => mkdtempSync(join(tmpdir(), 'tl-readers-'));

test('safetensors: every tensor of every fixture (F32, F16, BF16, sharded) reads as the reference reader reads it', () => {
  for (const [name, open] of [
    ['gpt2/model.safetensors', openSafetensors], ['gpt2-untied/model.safetensors', openSafetensors],
    ['llama3/model.safetensors', openSafetensors], ['llama/model.safetensors.index.json', openShardedSafetensors],
  ] as const) {
    const src = open(join(FIX, name));
    const ref = new Map();
    if (name.endsWith('index.json')) {
      readSafetensorsRef(join(FIX, 'llama/model-00001-of-00002.safetensors'), ref);
      readSafetensorsRef(join(FIX, 'llama/model-00002-of-00002.safetensors'), ref);
    } else readSafetensorsRef(join(FIX, name), ref);
    assert.deepEqual(src.names().sort(), [...ref.keys()].sort());
    for (const [k, t] of ref) {
      assert.deepEqual(src.info(k)!.shape, t.shape, k);
      if (src.info(k)!.dtype === 'U8') continue;
      assert.deepEqual(Array.from(src.read(k)), Array.from(t.data), k);
    }
  }
  assert.equal(openSafetensors(join(FIX, 'gpt2-untied/model.safetensors')).info('transformer.wte.weight')!.dtype, 'F16');
  assert.equal(openSafetensors(join(FIX, 'llama3/model.safetensors')).info('model.norm.weight')!.dtype, 'BF16');
});

test('safetensors: truncated, corrupt and unknown-dtype files are refused with the file and the tensor named', () => {
  const dir = tmp();
  try {
    const file = readFileSync(join(FIX, 'gpt2/model.safetensors'));
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, file.subarray(0, file.length - 100));
    assert.throws(() => openSafetensors(path), /model\.safetensors is not a valid safetensors file: tensor .* ends at byte \d+ of the data, but the file holds \d+ bytes of data \(truncated\)/);
    writeFileSync(path, file.subarray(0, 5));
    assert.throws(() => openSafetensors(path), /less than its 8-byte header length \(truncated\)/);
    writeFileSync(path, file.subarray(0, 20));
    assert.throws(() => openSafetensors(path), /its header claims \d+ bytes but the file has 20 \(truncated\)/);
    const bad = Buffer.from(file);
    bad.write('x', 8);
    writeFileSync(path, bad);
    assert.throws(() => openSafetensors(path), /its header is not JSON/);
    writeSafetensorsRef(path, [['w', { shape: [2], data: new Float32Array(2), dtype: 'Q4_K' }]]);
    assert.throws(() => openSafetensors(path), /tensor w has the unknown dtype "Q4_K"/);
    writeSafetensorsRef(path, [['steps', { shape: [1], data: new Float32Array(2), dtype: 'I64' }]]);
    assert.throws(() => openSafetensors(path).read('steps'), /Tensor steps in .* has dtype I64; Token Lens imports F32, F16 and BF16/);
    writeSafetensorsRef(path, [['w', { shape: [3], data: new Float32Array(2) }]]);
    assert.throws(() => openSafetensors(path), /tensor w \(F32 \[3\]\) needs 12 bytes, its offsets span 8/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sharded safetensors: a missing shard is named', () => {
  const dir = tmp();
  try {
    for (const f of ['model.safetensors.index.json', 'model-00001-of-00002.safetensors']) copyFileSync(join(FIX, 'llama', f), join(dir, f));
    assert.throws(() => openShardedSafetensors(join(dir, 'model.safetensors.index.json')),
      /The shard model-00002-of-00002\.safetensors listed in model\.safetensors\.index\.json is missing from /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('torch zip: data.pkl is found whatever the top folder is called; tensors are read lazily', () => {
  for (const file of ['ckpt.pt', 'renamed.pt']) {
    const zip = openZip(join(FIX, 'nanogpt-char', file));
    assert.ok(zip.find('/data.pkl')!.startsWith(file === 'ckpt.pt' ? 'ckpt/' : 'my_run/'));
    const ckpt = readTorchCheckpoint(join(FIX, 'nanogpt-char', file));
    const root = ckpt.root as Map<string, unknown>;
    assert.deepEqual([...root.keys()].sort(), ['best_val_loss', 'config', 'iter_num', 'model', 'model_args', 'optimizer']);
    assert.equal(root.get('iter_num'), 250);
    const args = root.get('model_args') as Map<string, unknown>;
    assert.deepEqual(Object.fromEntries(args), { n_layer: 2, n_head: 4, n_embd: 32, block_size: 32, bias: true, vocab_size: 30, dropout: 0 });
    const sd = root.get('model') as Map<string, TorchTensor>;
    assert.ok([...sd.keys()].every((k) => k.startsWith('_orig_mod.')));
    // The tied head shares wte's storage.
    assert.equal(sd.get('_orig_mod.lm_head.weight')!.storage.key, sd.get('_orig_mod.transformer.wte.weight')!.storage.key);
    const t = ckpt.tensors(sd);
    assert.deepEqual(t.info('_orig_mod.transformer.h.0.attn.c_attn.weight'), { dtype: 'FloatStorage', shape: [96, 32] });
    assert.deepEqual(t.info('_orig_mod.transformer.h.0.attn.bias')!.shape, [1, 1, 32, 32]);
    const mask = t.read('_orig_mod.transformer.h.0.attn.bias');
    assert.equal(mask[0 * 32 + 1], 0);
    assert.equal(mask[1 * 32 + 0], 1);
  }
});

test('pickle: opcodes and functions outside what checkpoints use are refused, never run', () => {
  assert.throws(() => readTorchCheckpoint(join(FIX, 'bad', 'runs-code.pt')),
    /runs-code\.pt \(archive\/data\.pkl\): it refers to (posix|os)\.system, which a model checkpoint does not need \(Token Lens never runs code from a pickle\)/);
  assert.throws(() => readTorchCheckpoint(join(FIX, 'bad', 'legacy.pt')), /legacy torch format/);
  const opts = { what: 'x.pkl', allowed: {} };
  // INST (protocol 0's way to call a class) and EXT1.
  assert.throws(() => unpickle(Buffer.from('(ios\nsystem\nS"ls"\n.', 'latin1'), opts), /pickle opcode INST \(0x69\) at byte 1/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x82, 1, 0x2e), opts), /pickle opcode EXT1 \(0x82\)/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x58, 9, 0, 0, 0, 0x61), opts), /ends inside an opcode .* \(truncated\)/);
});

test('pickle: plain data reads back, protocols 2 and 4 (ints of every width, floats, strings, containers, memo)', () => {
  const opts = { what: 'x.pkl', allowed: {} };
  // pickle.dumps({'a': [1, 256, -1, 10000000000, 3.14, 'b', True, None, (1,), (1, 2), (1, 2, 3), {5: 'x'}]}, protocol=2 / 4)
  const want = new Map([['a', [1, 256, -1, 10000000000, 3.14, 'b', true, null, [1], [1, 2], [1, 2, 3], new Map([[5, 'x']])]]]);
  for (const hex of [
    '80027d710058010000006171015d7102284b014d00014affffffff8a0500e40b54024740091eb851eb851f5801000000627103884e4b018571044b014b028671054b014b024b038771067d71074b0558010000007871087365732e',
    '80049547000000000000007d948c0161945d94284b014d00014affffffff8a0500e40b54024740091eb851eb851f8c016294884e4b0185944b014b0286944b014b024b0387947d944b058c0178947365732e',
  ]) assert.deepEqual(unpickle(Buffer.from(hex, 'hex'), opts), want);
});

test("meta.pkl: nanoGPT's character vocabulary, in id order", () => {
  const chars = readMetaPkl(join(FIX, 'nanogpt-char', 'meta.pkl'));
  assert.equal(chars.length, 30);
  assert.deepEqual(chars.slice(0, 6), ['\n', ' ', ',', '.', ':', 'A']);
  // As a tokenizer: exactly the model's 30 ids, one per character, no BOS; an unseen character is skipped
  // (the model has no id for it).
  const files = metaPklTokenizerFiles(join(FIX, 'nanogpt-char', 'meta.pkl'), 32);
  assert.equal(tokenizerIdCount(files.tokenizer), 30);
  const tok = loadTokenizer(files);
  assert.deepEqual(tok.encode('All: hear'), [...'All: hear'].map((c) => chars.indexOf(c)));
  assert.deepEqual(tok.encode('Allé!'), [...'All'].map((c) => chars.indexOf(c)));
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'meta.pkl'), Buffer.from('80047d942e', 'hex')); // {}
    assert.throws(() => readMetaPkl(join(dir, 'meta.pkl')), /is not a nanoGPT meta\.pkl: it has no itos dictionary/);
    unlinkSync(join(dir, 'meta.pkl'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
