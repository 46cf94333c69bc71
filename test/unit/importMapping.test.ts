// Checkpoint tensors under Token Lens's canonical names and layouts (src/core/models/config.ts), checked
// element by element against the original tensors read by the reference reader; and the messages for
// checkpoints that do not fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHfCheckpoint } from '../../src/core/importers/hfFolder';
import { importCheckpoint } from '../../src/core/importers/importCheckpoint';
import { readNanoGptCheckpoint } from '../../src/core/importers/nanogpt';
import { readHfFolder } from '../reference/hfReference';
import { readSafetensorsRef, writeSafetensorsRef } from '../reference/safetensors';

const FIX = join(__dirname, '..', 'fixtures', 'import');
const tmp = () => mkdtempSync(join(tmpdir(), 'tl-mapping-'));

/** Canonical [in, out] weight W vs an nn.Linear [out, in] tensor: W[i][o] === L[o][i]. */
function assertTransposed(W: Float32Array, L: Float64Array, out: number, inp: number, what: string) {
  assert.equal(W.length, out * inp, what);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
    if (W[i * out + o] !== L[o * inp + i]) assert.fail(`${what}: [${i}, ${o}] is ${W[i * out + o]}, expected ${L[o * inp + i]}`);
  }
}

test('GPT-2: c_attn is split into q, k, v columns as it is ([in, out]); mask buffers are not weights', () => {
  const m = readHfCheckpoint(join(FIX, 'gpt2'));
  const ref = readHfFolder(join(FIX, 'gpt2')).tensors;
  const C = 32;
  assert.equal(m.config.tied_head, true);
  assert.equal(m.config.gelu, 'tanh');
  assert.ok(!m.weights.has('head.weight'));
  const cattn = ref.get('h.1.attn.c_attn.weight')!.data;
  ['q', 'k', 'v'].forEach((n, j) => {
    const W = m.weights.get(`layers.1.attn.${n}.weight`)!;
    assert.deepEqual(W.shape, [C, C]);
    for (let i = 0; i < C; i++) for (let o = 0; o < C; o++) assert.equal(W.data[i * C + o], cattn[i * 3 * C + j * C + o]);
    assert.deepEqual(Array.from(m.weights.get(`layers.1.attn.${n}.bias`)!.data), Array.from(ref.get('h.1.attn.c_attn.bias')!.data.slice(j * C, (j + 1) * C)));
  });
  assert.deepEqual(Array.from(m.weights.get('layers.0.mlp.up.weight')!.data), Array.from(ref.get('h.0.mlp.c_fc.weight')!.data));
  assert.ok(![...m.weights.keys()].some((k) => k.includes('masked') || k.endsWith('attn.bias')));
  const untied = readHfCheckpoint(join(FIX, 'gpt2-untied'));
  assert.equal(untied.config.tied_head, false);
  assert.equal(untied.config.gelu, 'exact');
  assert.deepEqual(untied.weights.get('head.weight')!.shape, [untied.config.vocab_size, C]);
});

test('Llama / Qwen2 / Mistral: linears transposed, no q/k permutation, GQA, biases, explicit head_dim, llama3 scaling', () => {
  const m = readHfCheckpoint(join(FIX, 'llama'));
  const ref = readHfFolder(join(FIX, 'llama')).tensors;
  assert.deepEqual({ ...m.config, vocab_size: 0 }, {
    arch: 'llama', vocab_size: 0, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32, head_dim: 8, d_ff: 48, block_size: 64,
    norm: 'rmsnorm', norm_eps: 1e-5, mlp: 'swiglu', gelu: 'tanh', position: 'rope', rope_theta: 10000, rope_layout: 'half',
    rotary_dim: 8, rope_scaling: null, parallel_residual: false, bias: { qkv: false, o: false, mlp: false, norm: false },
    tied_head: false, sliding_window: null,
  });
  assertTransposed(m.weights.get('layers.1.attn.q.weight')!.data, ref.get('model.layers.1.self_attn.q_proj.weight')!.data, 32, 32, 'q');
  assertTransposed(m.weights.get('layers.1.attn.k.weight')!.data, ref.get('model.layers.1.self_attn.k_proj.weight')!.data, 16, 32, 'k');
  assertTransposed(m.weights.get('layers.0.attn.o.weight')!.data, ref.get('model.layers.0.self_attn.o_proj.weight')!.data, 32, 32, 'o');
  assertTransposed(m.weights.get('layers.0.mlp.gate.weight')!.data, ref.get('model.layers.0.mlp.gate_proj.weight')!.data, 48, 32, 'gate');
  assertTransposed(m.weights.get('layers.0.mlp.down.weight')!.data, ref.get('model.layers.0.mlp.down_proj.weight')!.data, 32, 48, 'down');
  assert.equal(m.specialTokens?.bos, 1);

  const l3 = readHfCheckpoint(join(FIX, 'llama3'));
  assert.equal(l3.config.head_dim, 12);
  assert.equal(l3.config.n_kv_head, 1);
  assert.equal(l3.config.tied_head, true);
  assert.deepEqual(l3.config.rope_scaling, { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 });
  assert.deepEqual(l3.weights.get('layers.0.attn.q.weight')!.shape, [32, 48]);
  assert.deepEqual(l3.weights.get('layers.0.attn.o.weight')!.shape, [48, 32]);
  assert.equal(l3.specialTokens?.eos, readHfFolder(join(FIX, 'llama3')).config.eos_token_id[0]);

  const q = readHfCheckpoint(join(FIX, 'qwen2'));
  assert.deepEqual(q.config.bias, { qkv: true, o: false, mlp: false, norm: false });
  assert.equal(q.config.sliding_window, null); // use_sliding_window: false
  assert.deepEqual(Array.from(q.weights.get('layers.1.attn.v.bias')!.data),
    Array.from(readHfFolder(join(FIX, 'qwen2')).tensors.get('model.layers.1.self_attn.v_proj.bias')!.data));
  assert.equal(readHfCheckpoint(join(FIX, 'mistral')).config.sliding_window, 8);
});

test('--from may name a weights file or config.json of a Hugging Face folder: the folder is imported', async () => {
  const out = tmp();
  for (const file of ['llama-dynamic/pytorch_model.bin', 'llama-bin/pytorch_model.bin.index.json', 'llama3/model.safetensors',
    'llama/model-00002-of-00002.safetensors', 'gpt2/config.json']) {
    const r = await importCheckpoint({ from: join(FIX, file), out: join(out, file.split('/')[0]) });
    assert.equal(r.kind, 'huggingface', file);
    assert.ok(existsSync(join(out, file.split('/')[0], 'onnx', 'model.onnx')), file);
  }
  rmSync(out, { recursive: true, force: true });
});

test('pytorch_model.bin, sharded or not: biases on attention output and MLP, linear and dynamic RoPE scaling', () => {
  const m = readHfCheckpoint(join(FIX, 'llama-bin'));
  assert.deepEqual(m.config.bias, { qkv: true, o: true, mlp: true, norm: false });
  assert.deepEqual(m.config.rope_scaling, { rope_type: 'linear', factor: 4 });
  for (const n of ['gate', 'up']) assert.deepEqual(m.weights.get(`layers.1.mlp.${n}.bias`)!.shape, [48]);
  assert.deepEqual(m.weights.get('layers.1.mlp.down.bias')!.shape, [32]);
  assert.deepEqual(m.weights.get('layers.1.attn.o.bias')!.shape, [32]);
  const d = readHfCheckpoint(join(FIX, 'llama-dynamic'));
  assert.deepEqual(d.config.rope_scaling, { rope_type: 'dynamic', factor: 2 });
  assert.equal(d.config.block_size, 32, 'the context stops where dynamic scaling would start to change the frequencies');

  const shardless = join(tmp(), 'llama-bin');
  cpSync(join(FIX, 'llama-bin'), shardless, { recursive: true });
  rmSync(join(shardless, 'pytorch_model-00002-of-00002.bin'));
  assert.throws(() => readHfCheckpoint(shardless),
    /The shard pytorch_model-00002-of-00002\.bin listed in pytorch_model\.bin\.index\.json is missing from /);
});

test('GPT-NeoX: query_key_value rows [head, (q, k, v), dim] become q, k, v columns; partial rotary; untied padded head', () => {
  const m = readHfCheckpoint(join(FIX, 'gpt_neox'));
  const ref = readHfFolder(join(FIX, 'gpt_neox')).tensors;
  const C = 32, H = 2, hd = 16;
  assert.equal(m.config.rotary_dim, 4);
  assert.equal(m.config.parallel_residual, true);
  assert.equal(m.config.gelu, 'exact');
  assert.equal(m.config.tied_head, false);
  assert.ok(m.config.vocab_size > 273, 'the head is wider than the tokenizer');
  assert.deepEqual(m.weights.get('head.weight')!.shape, [m.config.vocab_size, C]);
  const W = ref.get('gpt_neox.layers.1.attention.query_key_value.weight')!.data;
  const B = ref.get('gpt_neox.layers.1.attention.query_key_value.bias')!.data;
  ['q', 'k', 'v'].forEach((n, j) => {
    const w = m.weights.get(`layers.1.attn.${n}.weight`)!.data;
    const b = m.weights.get(`layers.1.attn.${n}.bias`)!.data;
    for (let h = 0; h < H; h++) for (let d = 0; d < hd; d++) {
      const row = h * 3 * hd + j * hd + d;
      assert.equal(b[h * hd + d], B[row]);
      for (let i = 0; i < C; i++) assert.equal(w[i * C + h * hd + d], W[row * C + i]);
    }
  });
});

test('nanoGPT: _orig_mod. names, nn.Linear transposed and split, tied head, bias=False, padded vocabulary', () => {
  const m = readNanoGptCheckpoint(join(FIX, 'nanogpt-char', 'ckpt.pt'));
  assert.equal(m.config.gelu, 'exact');
  assert.equal(m.config.tied_head, true);
  assert.deepEqual(m.config.bias, { qkv: true, o: true, mlp: true, norm: true });
  assert.equal(m.iterNum, 250);
  const renamed = readNanoGptCheckpoint(join(FIX, 'nanogpt-char', 'renamed.pt'));
  for (const [k, t] of m.weights) assert.deepEqual(renamed.weights.get(k)!.data, t.data, k);
  // q, k and v are different thirds of c_attn; the forward checks against PyTorch pin down which is which.
  const q = m.weights.get('layers.0.attn.q.weight')!.data;
  const v = m.weights.get('layers.0.attn.v.weight')!.data;
  const k = m.weights.get('layers.0.attn.k.weight')!.data;
  const up = m.weights.get('layers.0.mlp.up.weight')!.data;
  assert.equal(m.weights.get('layers.0.attn.q.weight')!.shape.join(), '32,32');
  assert.equal(m.weights.get('layers.0.mlp.up.weight')!.shape.join(), '32,128');
  assert.ok(q.some((x, i) => x !== k[i]) && k.some((x, i) => x !== v[i]) && up.length === 32 * 128);

  const g = readNanoGptCheckpoint(join(FIX, 'nanogpt-gpt2', 'ckpt.pt'));
  assert.equal(g.config.vocab_size, 50304);
  assert.deepEqual(g.config.bias, { qkv: false, o: false, mlp: false, norm: false });
  assert.ok(![...g.weights.keys()].some((n) => n.endsWith('.bias')));
  assert.deepEqual(g.weights.get('tok_emb')!.shape, [50304, 4]);
});

/** A copy of a fixture folder to break. */
function broken(name: string, edit: (dir: string) => void): string {
  const dir = join(tmp(), name);
  cpSync(join(FIX, name), dir, { recursive: true });
  edit(dir);
  return dir;
}

function dropTensor(file: string, drop: string) {
  const t = readSafetensorsRef(file);
  writeSafetensorsRef(file, [...t].filter(([n]) => n !== drop).map(([n, x]) => [n, { shape: x.shape, data: Float32Array.from(x.data) }]));
}

test('a missing tensor is named as the checkpoint names it; a shape mismatch names tensor and shapes; --out stays absent', async () => {
  const dir = broken('llama', (d) => {
    const index = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8'));
    dropTensor(join(d, index.weight_map['model.layers.1.mlp.down_proj.weight']), 'model.layers.1.mlp.down_proj.weight');
    delete index.weight_map['model.layers.1.mlp.down_proj.weight'];
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(index));
  });
  const out = join(dir, '..', 'out');
  await assert.rejects(importCheckpoint({ from: dir, out }), /has no tensor model\.layers\.1\.mlp\.down_proj\.weight\./);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(join(dir, '..')).sort(), ['llama'], 'no staging folder left behind');

  const shape = broken('qwen2', (d) => {
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 50 }));
  });
  await assert.rejects(importCheckpoint({ from: shape, out: join(shape, '..', 'out') }),
    /Tensor model\.layers\.0\.mlp\.gate_proj\.weight in .* has shape \[64, 32\], but the config implies \[50, 32\]\./);
  assert.ok(!existsSync(join(shape, '..', 'out')));

  const neox = broken('gpt_neox', (d) => dropTensor(join(d, 'model.safetensors'), 'embed_out.weight'));
  assert.throws(() => readHfCheckpoint(neox), /has no tensor embed_out\.weight\./);
});

test('config.json problems: unsupported model_type lists the supported ones; unsupported options are refused', async () => {
  const edit = (name: string, patch: Record<string, unknown>) => broken(name, (d) => {
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
  });
  await assert.rejects(importCheckpoint({ from: edit('gpt2', { model_type: 't5' }), out: join(tmp(), 'o') }),
    /has model_type "t5", which Token Lens cannot import; supported: gpt2, llama, qwen2, mistral, gpt_neox, bert, roberta\./);
  // A masked model's config is read as one: what it lacks is named.
  await assert.rejects(importCheckpoint({ from: edit('gpt2', { model_type: 'bert' }), out: join(tmp(), 'o') }),
    /config\.json has no num_hidden_layers/);
  assert.throws(() => readHfCheckpoint(edit('llama3', { rope_scaling: { type: 'yarn', factor: 4 } })),
    /rope_scaling of type "yarn" \(Token Lens runs "llama3", "linear" and "dynamic"\) is not supported/);
  assert.throws(() => readHfCheckpoint(edit('llama3', { rope_scaling: { rope_type: 'longrope', factor: 4 } })), /rope_scaling of type "longrope"/);
  assert.throws(() => readHfCheckpoint(edit('qwen2', { use_sliding_window: true })), /use_sliding_window: true .* is not supported/);
  // The older spelling of the scaling type.
  const old = readHfCheckpoint(edit('llama3', { rope_scaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }));
  assert.equal(old.config.rope_scaling?.factor, 8);
  assert.throws(() => readHfCheckpoint(edit('llama', { hidden_act: 'gelu' })), /hidden_act "gelu"/);
  assert.throws(() => readHfCheckpoint(edit('gpt2', { activation_function: 'relu' })), /activation_function "relu"/);
  assert.throws(() => readHfCheckpoint(edit('gpt2', { vocab_size: 100 })), /Tensor wte\.weight .* has shape \[273, 32\], but the config implies \[100, 32\]/);
});
