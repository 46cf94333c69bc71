// Optimum's quantized variants of one export (test/fixtures/hub/gpt2-*, written by make_hub_quantized.ts
// from the weights of gpt2-opset13) load through the Hub download path with attention, and stay within
// their quantization error of torch's float32 reference; tokenLens.dtype picks the file; the tree API gives
// each variant's size before downloading; a folder without the asked-for variant says what it has.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { listHubVariants } from '../../src/core/runtime/hubVariants';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import type { DtypeChoice } from '../../src/core/runtime/onnxFile';
import { ModelSession } from '../../src/core/runtime/session';
import { variantItems } from '../../src/extension/variantItems';
import { HUB_FIXTURES, type HubServer, startHub } from './hubServer';
import { attentionWeights } from './attentionOf';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-variants-'));
let hub: HubServer;
before(async () => { hub = await startHub(tmp); });
after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Reference { text: string; ids: number[]; logits: number[]; attention: number[][][] }
const reference: Reference = JSON.parse(fs.readFileSync(path.join(HUB_FIXTURES, 'gpt2.reference.json'), 'utf8'));

/** KL(P‖Q) in nats from two rows of logits, in float64: written here, apart from the code under test. */
function kl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const logZ = (r: ArrayLike<number>) => {
    const m = Math.max(...Array.from(r));
    return m + Math.log(Array.from(r).reduce((s, x) => s + Math.exp(x - m), 0));
  };
  const zp = logZ(p), zq = logZ(q);
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.exp(p[i] - zp) * ((p[i] - zp) - (q[i] - zq));
  return sum;
}

/**
 * Mean KL(torch float32 ‖ variant) over the text's positions. Seen on these random, sharp weights:
 * 8-bit 0.0016 (int8) / 0.0006 (uint8); 4-bit MatMulNBits 0.035 (q4 and q4f16); NF4 0.049. The bounds leave
 * about 3x room; a misread layout (nibbles swapped, a scale per row instead of per column) gives 0.5 and more.
 */
const KL_BOUND = { q8: 0.005, q4: 0.1, bnb4: 0.15 };

async function checkVariant(session: ModelSession, bound: number): Promise<number> {
  assert.equal(session.info.attention, 'available', session.info.attentionNote);
  const a = await session.analyze(reference.text, { attention: true });
  assert.deepEqual(a.tokens.map((t) => t.id), reference.ids);
  const T = reference.ids.length, V = a.vocabSize;
  let mean = 0;
  for (let t = 0; t < T; t++) mean += kl(reference.logits.slice(t * V, (t + 1) * V), await a.row(t)) / T;
  assert.ok(mean <= bound, `mean KL from torch's float32 logits ${mean} > ${bound}`);
  // Attention: probabilities (rows sum to 1, causal zeros) for every layer and head, as the reference has.
  const att = a.attention!;
  const weights = await attentionWeights(a);
  assert.equal(att.layers, reference.attention.length);
  assert.equal(att.heads, reference.attention[0].length);
  for (let l = 0; l < att.layers; l++) {
    for (let h = 0; h < att.heads; h++) {
      for (let q = 0; q < T; q++) {
        const row = weights[l][h].subarray(q * T, (q + 1) * T);
        assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 2e-3, `layer ${l} head ${h} row ${q}`);
        for (let k = q + 1; k < T; k++) assert.equal(row[k], 0);
      }
    }
  }
  return mean;
}

const LAYOUTS: [string, string, number][] = [
  ['gpt2-quantized', 'onnx/model_quantized.onnx', KL_BOUND.q8],
  ['gpt2-int8', 'onnx/model_int8.onnx', KL_BOUND.q8],
  ['gpt2-uint8', 'onnx/model_uint8.onnx', KL_BOUND.q8],
  ['gpt2-q4', 'onnx/model_q4.onnx', KL_BOUND.q4],
  ['gpt2-q4f16', 'onnx/model_q4f16.onnx', KL_BOUND.q4],
  ['gpt2-bnb4', 'onnx/model_bnb4.onnx', KL_BOUND.bnb4],
];

for (const [repo, file, bound] of LAYOUTS) {
  test(`${file} alone (${repo}) downloads, loads with attention and stays within its quantization error`, async () => {
    const session = await ModelSession.load(`token-lens-test/${repo}`, { cacheDir: path.join(tmp, 'cache'), remoteHost: hub.host });
    try {
      assert.ok(hub.requests.some((r) => r === `GET /token-lens-test/${repo}/resolve/main/${file}`), hub.requests.join('\n'));
      assert.equal(session.variant, file);
      await checkVariant(session, bound);
    } finally {
      await session.dispose();
    }
  });
}

test('tokenLens.dtype picks the variant file of a repository that has them all, and downloads only that one', async () => {
  const cases: [DtypeChoice, string, number][] = [
    ['auto', 'onnx/model.onnx', 1e-9], ['fp32', 'onnx/model.onnx', 1e-9], ['fp16', 'onnx/model_fp16.onnx', 1e-4],
    ['q8', 'onnx/model_quantized.onnx', KL_BOUND.q8], ['q4', 'onnx/model_q4.onnx', KL_BOUND.q4],
  ];
  const seen: Record<string, number> = {};
  for (const [dtype, file, bound] of cases) {
    const cacheDir = path.join(tmp, `cache-${dtype}`);
    const before = hub.requests.length;
    const session = await ModelSession.load('token-lens-test/gpt2-variants', { cacheDir, remoteHost: hub.host, dtype });
    try {
      assert.equal(session.variant, file, dtype);
      // transformers.js may ask for a file more than once; what matters is which files it asks for.
      const fetched = [...new Set(hub.requests.slice(before).filter((r) => r.startsWith('GET') && r.endsWith('.onnx')))];
      assert.deepEqual(fetched, [`GET /token-lens-test/gpt2-variants/resolve/main/${file}`], dtype);
      seen[dtype] = await checkVariant(session, bound);
    } finally {
      await session.dispose();
    }
  }
  // Coarser rounding, larger divergence: the files really differ.
  assert.ok(seen.fp16 < seen.q8 && seen.q8 < seen.q4, JSON.stringify(seen));
});

test('the Hub tree API gives each variant with its download size, before anything is downloaded', async () => {
  const before = hub.requests.length;
  const variants = await listHubVariants('token-lens-test/gpt2-variants', { remoteHost: hub.host });
  assert.deepEqual(variants.map((v) => [v.file, v.precision]), [
    ['onnx/model.onnx', 'fp32'], ['onnx/model_fp16.onnx', 'fp16'], ['onnx/model_quantized.onnx', 'q8'], ['onnx/model_q4.onnx', 'q4'],
  ]);
  for (const v of variants) assert.equal(v.bytes, fs.statSync(path.join(HUB_FIXTURES, 'gpt2-variants', v.file)).size, v.file);
  assert.deepEqual(hub.requests.slice(before), ['GET /api/models/token-lens-test/gpt2-variants/tree/main/onnx']);
  // What Select Model… shows for them: one row per precision, its file and its size; the current one checked.
  const kb = (f: string) => `${Math.round(fs.statSync(path.join(HUB_FIXTURES, 'gpt2-variants', f)).size / 1024)} KB`;
  assert.deepEqual(variantItems(variants, 'q8').map((i) => [i.label, i.description, i.dtype]), [
    ['auto', `onnx/model.onnx, ${kb('onnx/model.onnx')}`, 'auto'],
    ['fp32', `onnx/model.onnx, ${kb('onnx/model.onnx')}`, 'fp32'],
    ['fp16', `onnx/model_fp16.onnx, ${kb('onnx/model_fp16.onnx')}`, 'fp16'],
    ['$(check) q8', `onnx/model_quantized.onnx, ${kb('onnx/model_quantized.onnx')}`, 'q8'],
    ['q4', `onnx/model_q4.onnx, ${kb('onnx/model_q4.onnx')}`, 'q4'],
  ]);
  // A repository with one variant has nothing to choose: no list.
  assert.deepEqual(variantItems(await listHubVariants('token-lens-test/gpt2-q4', { remoteHost: hub.host }), 'auto'), []);
  await assert.rejects(listHubVariants('token-lens-test/no-such-repo', { remoteHost: hub.host }), /Could not list the files of "token-lens-test\/no-such-repo".*HTTP 404/);
});

test('a folder without the asked-for variant lists the decoder files it has; a broken variant file is named', async () => {
  const dir = path.join(tmp, 'only-q8');
  fs.cpSync(path.join(HUB_FIXTURES, 'gpt2-quantized'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'onnx', 'model_q3.onnx'), 'not a model');
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache-q4'), dtype: 'q4' }), (e: Error) =>
    e instanceof ModelLoadError && e.message.includes('has no q4 ONNX decoder: expected onnx/model_q4.onnx or ') &&
    e.message.includes('found onnx/model_q3.onnx, onnx/model_quantized.onnx'));
  const empty = path.join(tmp, 'no-onnx');
  fs.mkdirSync(path.join(empty, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(dir, f), path.join(empty, f));
  await assert.rejects(ModelSession.load(empty, { cacheDir: path.join(tmp, 'cache-none') }), /found no \.onnx file/);
  // A variant file that onnxruntime cannot load: the message names it.
  fs.writeFileSync(path.join(dir, 'onnx', 'model_quantized.onnx'), Buffer.from('garbage, not protobuf'));
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache-broken'), dtype: 'q8' }),
    (e: Error) => e instanceof ModelLoadError && e.message.includes('onnx/model_quantized.onnx'), );
});
