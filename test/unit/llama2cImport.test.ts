import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importLlama2c, readLlama2cCheckpoint } from '../../src/core/importers/llama2c';
import { llama2cEncode, readRawPieces } from '../reference/llama2cEncode';

const dir = join(__dirname, '..', '..', 'vendor', 'stories260K');
const CKPT = join(dir, 'stories260K.bin');
const TOK = join(dir, 'tok512.bin');
const file = readFileSync(CKPT);

test('header and every tensor shape of stories260K', () => {
  const { config, weights } = readLlama2cCheckpoint(file);
  assert.deepEqual(config, {
    arch: 'llama', vocab_size: 512, n_layer: 5, n_head: 8, n_kv_head: 4, n_embd: 64, head_dim: 8, d_ff: 172,
    block_size: 512, norm: 'rmsnorm', norm_eps: 1e-5, mlp: 'swiglu', gelu: 'tanh', position: 'rope', rope_theta: 10000,
    rope_layout: 'interleaved', rotary_dim: 8, rope_scaling: null, parallel_residual: false,
    bias: { qkv: false, o: false, mlp: false, norm: false }, tied_head: true, sliding_window: null,
  });
  // llama2.c's tensors under Token Lens's names, in llama2.c's order.
  const want: Record<string, number[]> = { tok_emb: [512, 64] };
  for (const [name, shape] of [['ln_1.weight', [64]], ['attn.q.weight', [64, 64]], ['attn.k.weight', [64, 32]],
    ['attn.v.weight', [64, 32]], ['attn.o.weight', [64, 64]], ['ln_2.weight', [64]], ['mlp.gate.weight', [64, 172]],
    ['mlp.down.weight', [172, 64]], ['mlp.up.weight', [64, 172]]] as const) {
    for (let i = 0; i < 5; i++) want[`layers.${i}.${name}`] = [...shape];
  }
  want['ln_f.weight'] = [64];
  assert.deepEqual(Object.fromEntries([...weights].map(([k, t]) => [k, t.shape])), want);
  for (const [name, t] of weights) assert.equal(t.data.length, t.shape.reduce((a, b) => a * b), name);
});

test('linears are transposed to [in, out]; values come from the documented file offsets', () => {
  const { weights } = readLlama2cCheckpoint(file);
  const f = (index: number) => file.readFloatLE(28 + 4 * index);
  const V = 512, D = 64, L = 5, KV = 32, F = 172;
  // token_embedding [V, D], then rms_att [L, D], then wq [L, D(out), D(in)].
  assert.equal(weights.get('tok_emb')!.data[3 * D + 5], f(3 * D + 5));
  assert.equal(weights.get('layers.2.ln_1.weight')!.data[7], f(V * D + 2 * D + 7));
  const wq = V * D + L * D;
  // Row r (output), column k (input) in the file is [k, r] in Token Lens.
  assert.equal(weights.get('layers.1.attn.q.weight')!.data[5 * D + 9], f(wq + 1 * D * D + 9 * D + 5));
  const wk = wq + L * D * D;
  assert.equal(weights.get('layers.4.attn.k.weight')!.data[10 * KV + 31], f(wk + 4 * KV * D + 31 * D + 10));
  const w2 = wk + 2 * L * KV * D + L * D * D + L * D + L * F * D;
  assert.equal(weights.get('layers.0.mlp.down.weight')!.data[171 * D + 63], f(w2 + 63 * F + 171));
  const norm = w2 + 2 * L * D * F;
  assert.equal(weights.get('ln_f.weight')!.data[0], f(norm));
});

test('truncated, padded and corrupt checkpoints give clear errors', () => {
  assert.throws(() => readLlama2cCheckpoint(file.subarray(0, file.length - 4)), /truncated: 1056536 bytes, the header implies 1056540/);
  assert.throws(() => readLlama2cCheckpoint(Buffer.concat([file, Buffer.alloc(8)])), /longer than its header says/);
  assert.throws(() => readLlama2cCheckpoint(file.subarray(0, 10)), /less than its header/);
  const bad = Buffer.from(file.subarray(0, 64));
  bad.writeInt32LE(60, 12); // 60 heads do not divide dim 64
  assert.throws(() => readLlama2cCheckpoint(bad), /not a consistent model/);
  const ak42 = Buffer.from(file.subarray(0, 64));
  ak42.writeUInt32LE(0x616b3432, 0);
  assert.throws(() => readLlama2cCheckpoint(ak42), /ak42/);
});

test('importLlama2c: missing files and a tokenizer of another vocabulary are refused', async () => {
  const out = mkdtempSync(join(tmpdir(), 'tl-import-'));
  try {
    await assert.rejects(importLlama2c({ checkpoint: join(out, 'nope.bin'), tokenizer: TOK, out }), /checkpoint file .*nope\.bin does not exist/);
    await assert.rejects(importLlama2c({ checkpoint: CKPT, tokenizer: join(out, 'nope.bin'), out }), /tokenizer file .*does not exist/);
    // The first 300 tokens of tok512 as a tokenizer.bin of its own.
    const tok = readFileSync(TOK);
    let o = 4;
    for (let i = 0; i < 300; i++) o += 8 + tok.readInt32LE(o + 4);
    writeFileSync(join(out, 'tok300.bin'), tok.subarray(0, o));
    await assert.rejects(importLlama2c({ checkpoint: CKPT, tokenizer: join(out, 'tok300.bin'), out: join(out, 'm') }),
      /has 300 tokens but the checkpoint .* has a vocabulary of 512/);
    assert.ok(!existsSync(join(out, 'm', 'config.json')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the imported folder loads in transformers.js and tells the known story', async () => {
  const out = mkdtempSync(join(tmpdir(), 'tl-import-'));
  try {
    const steps: string[] = [];
    const { config } = await importLlama2c({ checkpoint: CKPT, tokenizer: TOK, out, onProgress: (p) => steps.push(p.message ?? '') });
    assert.equal(config.vocab_size, 512);
    assert.ok(steps.length >= 3);
    const { AutoTokenizer, AutoModelForCausalLM } = await import('@huggingface/transformers');
    const tokenizer = await AutoTokenizer.from_pretrained(out, { local_files_only: true });
    const raw = readRawPieces(readFileSync(TOK));
    const text = 'Once upon a time, Lily went to the park.';
    assert.deepEqual(tokenizer.encode(text), llama2cEncode(raw.pieces, raw.scores, new TextEncoder().encode(text), true, false));
    const model = await AutoModelForCausalLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32' });
    const inputs = tokenizer('Once upon a time');
    const ids = (await model.generate({ ...inputs, max_new_tokens: 12, do_sample: false })) as unknown as { tolist(): bigint[][] };
    const story = tokenizer.decode(ids.tolist()[0].map(Number), { skip_special_tokens: true });
    assert.ok(story.startsWith('Once upon a time, there was a little girl named Lily.'), story);
    await model.dispose();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
