// token-lens quantize and compare through the built CLI (`node dist/cli.js`), as a user runs them, on the
// real stories260K: its q8, q4 and fp16 variants against full precision, a model with another tokenizer
// (GPT-2's, through character offsets), and bad input. The KL divergences the lens reports are checked
// against KL computed here from both models' full distributions, run directly on onnxruntime.
// Needs `npm run build`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { decodeModel, floatsOf } from '../../src/core/onnx/builder';
import { halfToFloat } from '../../src/core/float16';
import { BUILT_CLI, cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendor = path.join(root, 'vendor', 'stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-cli-compare-'));
const model = path.join(tmp, 'stories260K');
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.';
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = cliRunner({ cache: path.join(tmp, 'cache'), built: BUILT_CLI });

before(() => {
  const r = cli('import-llama2c', '--checkpoint', path.join(vendor, 'stories260K.bin'), '--tokenizer', path.join(vendor, 'tok512.bin'), '--out', model);
  assert.equal(r.code, 0, r.err);
  for (const to of ['q8', 'q4', 'fp16']) {
    const q = cli('quantize', '--model', model, '--to', to);
    assert.equal(q.code, 0, q.err);
  }
});

const onnxOf = (file: string) => decodeModel(fs.readFileSync(path.join(model, 'onnx', file)));
const initializers = (m: onnx.IModelProto) => new Map((m.graph!.initializer ?? []).map((t) => [t.name!, t]));
const attr = (n: onnx.INodeProto, name: string) => Number(n.attribute!.find((a) => a.name === name)!.i);

test('quantize writes Optimum\'s file names beside model.onnx, and each rewrites every weight MatMul', () => {
  const plain = onnxOf('model.onnx');
  const weightMatMuls = plain.graph!.node!.filter((n) => n.opType === 'MatMul' && initializers(plain).has(n.input![1]));
  assert.equal(weightMatMuls.length, 35, '5 layers x (q, k, v, o, w1, w2, w3)');
  const q8 = onnxOf('model_quantized.onnx');
  const ops8 = q8.graph!.node!.map((n) => n.opType);
  assert.equal(ops8.filter((o) => o === 'MatMulInteger').length, 35);
  assert.equal(ops8.filter((o) => o === 'DynamicQuantizeLinear').length, 35);
  assert.ok(!q8.graph!.node!.some((n) => n.opType === 'MatMul' && initializers(q8).has(n.input![1])), 'no float weight MatMul is left');
  const q4 = onnxOf('model_q4.onnx');
  const nbits = q4.graph!.node!.filter((n) => n.opType === 'MatMulNBits');
  assert.equal(nbits.length, 35);
  for (const n of nbits) {
    assert.equal(n.domain, 'com.microsoft');
    assert.deepEqual([attr(n, 'bits'), attr(n, 'block_size')], [4, 32]);
  }
  const fp16 = onnxOf('model_fp16.onnx');
  assert.ok((fp16.graph!.initializer ?? []).some((t) => t.dataType === onnx.TensorProto.DataType.FLOAT16));
  // Files shrink as the weights do (stories260K's embedding table stays float32 in q8 and q4: it is a Gather).
  const size = (f: string) => fs.statSync(path.join(model, 'onnx', f)).size;
  assert.ok(size('model_q4.onnx') < size('model_quantized.onnx') && size('model_quantized.onnx') < size('model_fp16.onnx') &&
    size('model_fp16.onnx') < size('model.onnx'));
  // The attention and scoring outputs survive: the graphs' outputs are the same.
  const outs = (m: onnx.IModelProto) => m.graph!.output!.map((o) => o.name);
  for (const m of [q8, q4, fp16]) assert.deepEqual(outs(m), outs(plain));
});

test('the stored codes decode back to every weight within half a quantization step', () => {
  const plain = initializers(onnxOf('model.onnx'));
  const q8 = onnxOf('model_quantized.onnx');
  const q8init = initializers(q8);
  for (const n of q8.graph!.node!.filter((x) => x.opType === 'MatMulInteger')) {
    const q = q8init.get(n.input![1])!;
    const weight = floatsOf(plain.get(q.name!.replace(/_quantized$/, ''))!);
    const scale = floatsOf(q8init.get(q.name!.replace(/_quantized$/, '_scale'))!)[0];
    const codes = new Int8Array(q.rawData!.buffer, q.rawData!.byteOffset, q.rawData!.length);
    for (let i = 0; i < weight.length; i++) assert.ok(Math.abs(codes[i] * scale - weight[i]) <= scale / 2 + 1e-7, `${q.name}[${i}]`);
  }
  const q4 = onnxOf('model_q4.onnx');
  const q4init = initializers(q4);
  for (const n of q4.graph!.node!.filter((x) => x.opType === 'MatMulNBits')) {
    const K = attr(n, 'K'), N = attr(n, 'N'), blocks = Math.ceil(K / 32);
    const weight = floatsOf(plain.get(n.input![1].replace(/_Q4$/, ''))!);
    const packed = q4init.get(n.input![1])!.rawData!;
    const scales = floatsOf(q4init.get(n.input![2])!);
    // MatMulNBits' layout, read here on its own: column n, block b, byte j holds rows 32b+2j (low nibble) and 32b+2j+1.
    for (let c = 0; c < N; c++) {
      for (let k = 0; k < K; k++) {
        const b = Math.floor(k / 32), j = k % 32;
        const byte = packed[(c * blocks + b) * 16 + (j >> 1)];
        const code = j % 2 ? byte >> 4 : byte & 15;
        const s = scales[c * blocks + b];
        // Codes run from -8 to +7 steps: a value of the other sign as large as the block's extreme clips to +7.
        const bound = code === 15 ? Math.abs(s) : Math.abs(s) / 2;
        assert.ok(Math.abs((code - 8) * s - weight[k * N + c]) <= bound + 1e-6, `${n.input![1]} [${k}, ${c}]: code ${code}`);
      }
    }
  }
  const fp16 = initializers(onnxOf('model_fp16.onnx'));
  const tok = fp16.get('tok_emb_fp16')!;
  const halves = new Uint16Array(Uint8Array.from(tok.rawData!).buffer);
  const weight = floatsOf(plain.get('tok_emb')!);
  for (let i = 0; i < weight.length; i++) assert.ok(Math.abs(halfToFloat(halves[i]) - weight[i]) <= Math.abs(weight[i]) * 2 ** -11 + 2 ** -25);
});

interface Compared { models: string[]; sameTokenizer: boolean; tokens: { start: number; end: number; text: string; lossA: number | null; lossB: number | null; kl: number | null; top1Same: boolean | null }[]; meanLossA: number; meanLossB: number; meanKl: number | null; top1Agreement: number | null }

function compare(a: string, b: string, text = TEXT): Compared {
  const r = cli('compare', '--model', a, '--model', b, '--json', text);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

/** Every position's logits from onnxruntime directly, for the ids explain reports. */
async function logitsOf(file: string, ids: number[]): Promise<Float32Array> {
  const c = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
  const s = await ort.InferenceSession.create(path.join(model, 'onnx', file), { intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
  };
  const headDim = c.hidden_size / c.num_attention_heads;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.num_key_value_heads, 0, headDim]);
  }
  const out = await s.run(feeds, ['logits']);
  await s.release();
  return out.logits.data as Float32Array;
}

function klRows(p: Float32Array, q: Float32Array): number {
  const lse = (r: Float32Array) => { let m = -Infinity; for (const x of r) m = Math.max(m, x); let s = 0; for (const x of r) s += Math.exp(x - m); return m + Math.log(s); };
  const zp = lse(p), zq = lse(q);
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += Math.exp(p[i] - zp) * (p[i] - zp - q[i] + zq);
  return kl;
}

test('compare stories260K with its q8, q4 and fp16 variants: KL as computed from both full distributions', async () => {
  const explain = JSON.parse(cli('explain', '--model', model, '--json', TEXT).out);
  const ids: number[] = explain.tokens.map((t: { id: number }) => t.id);
  const V = 512;
  const plain = await logitsOf('model.onnx', ids);
  const means: Record<string, number> = {};
  for (const [variant, file] of [['q8', 'model_quantized.onnx'], ['q4', 'model_q4.onnx'], ['fp16', 'model_fp16.onnx']]) {
    const c = compare(model, `${model}@${variant}`);
    assert.deepEqual(Object.keys(c), ['models', 'sameTokenizer', 'tokens', 'meanLossA', 'meanLossB', 'meanKl', 'top1Agreement']);
    assert.deepEqual(Object.keys(c.tokens[0]), ['start', 'end', 'text', 'lossA', 'lossB', 'kl', 'top1Same']);
    assert.deepEqual(c.models, [model, `${model}@${variant}`]);
    assert.equal(c.sameTokenizer, true);
    assert.equal(c.tokens.map((t) => TEXT.slice(t.start, t.end)).join(''), TEXT);
    assert.equal(c.tokens.length, ids.length - 1, 'every token after BOS');
    const other = await logitsOf(file, ids);
    let meanKl = 0, agree = 0;
    c.tokens.forEach((t, i) => {
      const row = (l: Float32Array) => l.subarray(i * V, (i + 1) * V);   // the distribution that predicted ids[i + 1]
      const kl = klRows(row(plain), row(other));
      assert.ok(Math.abs(t.kl! - kl) <= 1e-6 + 1e-4 * kl, `${variant} token ${i}: KL ${t.kl} vs ${kl}`);
      const top = (r: Float32Array) => r.indexOf(Math.max(...r));
      assert.equal(t.top1Same, top(row(plain)) === top(row(other)), `top-1 at ${i}`);
      assert.ok(Math.abs(t.lossA! - explain.tokens[i + 1].loss) < 1e-5);
      meanKl += kl / c.tokens.length;
      agree += Number(t.top1Same) / c.tokens.length;
    });
    assert.ok(Math.abs(c.meanKl! - meanKl) < 1e-6);
    assert.ok(Math.abs(c.top1Agreement! - agree) < 1e-9);
    means[variant] = c.meanKl!;
  }
  // Seen: fp16 ~1e-6, q8 ~0.0015, q4 ~0.025 nats per token. Coarser rounding, larger divergence.
  assert.ok(means.fp16 < 1e-4 && means.fp16 < means.q8 && means.q8 < 0.01 && means.q8 < means.q4 && means.q4 < 0.2, JSON.stringify(means));
  // A model against itself: nothing differs.
  const same = compare(model, model);
  assert.equal(same.meanKl, 0);
  assert.equal(same.top1Agreement, 1);
});

test('compare as text: the summary, rank moves and the tokens that moved most', () => {
  const r = cli('compare', '--model', model, '--model', `${model}@q4`, TEXT);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^A .*stories260K \(onnx\/model\.onnx\)\nB .*stories260K@q4 \(onnx\/model_q4\.onnx\)\nsame tokenizer/);
  assert.match(r.out, /mean loss A \d\.\d{4}, B \d\.\d{4} nats\/token; mean Δloss [+-]\d\.\d{3}/);
  assert.match(r.out, /mean KL\(A‖B\) 0\.\d{5} nats; top-1 agreement \d+\.\d%/);
  assert.match(r.out, /moved most: "[^"]+" [+-]\d\.\d{3}, rank \d+→\d+/);
});

test('a quantized variant keeps attention: explain --attention on model@q8 and model@q4', () => {
  for (const variant of ['q8', 'q4']) {
    const j = JSON.parse(cli('explain', '--model', `${model}@${variant}`, '--attention', '--json', 'Once upon a time').out);
    assert.equal(j.attention.layers, 5);
    assert.equal(j.attention.heads, 8);
    for (const layer of j.attention.weights) for (const head of layer) for (const row of head) {
      assert.ok(Math.abs(row.reduce((s: number, x: number) => s + x, 0) - 1) < 1e-5);
    }
  }
});

test('quantize --out writes a folder that loads on its own; bad input is refused with the reason', () => {
  const out = path.join(tmp, 'q4-only');
  assert.equal(cli('quantize', '--model', model, '--to', 'q4', '--out', out).code, 0);
  assert.deepEqual(fs.readdirSync(path.join(out, 'onnx')), ['model_q4.onnx']);
  const j = JSON.parse(cli('explain', '--model', out, '--json', 'Once upon a time').out);
  assert.equal(j.tokens.length, 5);
  const bad = cli('quantize', '--model', model, '--to', 'q3');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--to must be one of q8, q4, fp16, got "q3"/);
  const none = cli('quantize', '--model', path.join(tmp, 'nowhere'), '--to', 'q8');
  assert.equal(none.code, 2);
  assert.match(none.err, /has no onnx\/model\.onnx to quantize/);
  const missing = cli('explain', '--model', out, '--dtype', 'q8', 'Once');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /has no q8 ONNX decoder: expected onnx\/model_quantized\.onnx or .*; found onnx\/model_q4\.onnx\./);
});

test('compare with another tokenizer lines the two up on character offsets, in bits per character', () => {
  const gpt2 = path.join(tmp, 'gpt2-tiny');
  assert.equal(cli('write-random', '--arch', 'gpt2', '--preset', 'gpt2-tiny', '--out', gpt2).code, 0);
  const c = compare(model, gpt2);
  assert.equal(c.sameTokenizer, false);
  assert.equal(c.meanKl, null);
  assert.equal(c.top1Agreement, null);
  for (const t of c.tokens) {
    assert.equal(t.kl, null);
    assert.equal(t.top1Same, null);
    assert.equal(t.text, TEXT.slice(t.start, t.end));
  }
  // Independently, from each model's own per-token losses: both score every token from the end of GPT-2's
  // first one (it has no BOS, so nothing predicts its first token) to the end of the text.
  type Tok = { start: number; end: number; loss: number | null; text: string };
  const tokensOf = (m: string): Tok[] => JSON.parse(cli('explain', '--model', m, '--json', TEXT).out).tokens.filter((t: Tok) => t.end > t.start);
  const a = tokensOf(model), b = tokensOf(gpt2);
  assert.equal(b[0].loss, null);
  const from = b[0].end;
  assert.ok(a.some((t) => t.start === from), 'stories260K has a boundary there too');
  const bits = (ts: Tok[]) => ts.filter((t) => t.start >= from).reduce((s, t) => s + t.loss!, 0) / Math.LN2 / (TEXT.length - from);
  assert.ok(Math.abs(c.meanLossA - bits(a)) < 1e-9, `${c.meanLossA} vs ${bits(a)}`);
  assert.ok(Math.abs(c.meanLossB - bits(b)) < 1e-9, `${c.meanLossB} vs ${bits(b)}`);
  // A random GPT-2 knows nothing: about log2(50257) bits per token, far above the trained model.
  assert.ok(c.meanLossB > 2 * c.meanLossA);
  const text = cli('compare', '--model', model, '--model', gpt2, TEXT);
  assert.match(text.out, /different tokenizers: pieces lined up on character offsets, loss in bits per character/);
  assert.match(text.out, /bits\/char/);
});

test('compare on an empty text, or with one model, says what is wrong', () => {
  for (const args of [[''], ['   ']]) {
    const r = cli('compare', '--model', model, '--model', `${model}@q8`, ...args);
    assert.equal(r.code, 2);
    assert.match(r.err, /the text is empty: nothing to compare/);
  }
  const emptyFile = path.join(tmp, 'empty.txt');
  fs.writeFileSync(emptyFile, '');
  assert.match(cli('compare', '--model', model, '--model', model, '--file', emptyFile).err, /the text is empty/);
  const one = cli('compare', '--model', model, 'text');
  assert.equal(one.code, 2);
  assert.match(one.err, /give --model twice \(A, then B\); got 1/);
});
