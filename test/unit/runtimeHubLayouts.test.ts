// Exports made the way torch.onnx and Optimum make them (test/fixtures/hub, written by
// make_hub_exports.py + make_hub_variants.ts from the same random weights) load through the Hub download
// path and give torch's logits and attention probabilities: older opsets, a merged decoder (`If` on
// use_cache_branch), and a float16 export.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';

const HUB = path.join(__dirname, '..', 'fixtures', 'hub');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-layouts-'));
const requests: string[] = [];
let server: http.Server;
let host = '';

interface Reference { text: string; ids: number[]; logits: number[]; attention: number[][][] }
const reference = (family: string): Reference => JSON.parse(fs.readFileSync(path.join(HUB, `${family}.reference.json`), 'utf8'));

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    // The Hub's layout: /{owner}/{name}/resolve/{revision}/{file}; each fixture folder is one repository.
    const m = /^\/token-lens-test\/([\w.-]+)\/resolve\/main\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    // Repositories named local-* are folders a test writes into its temporary directory.
    const root = m && (m[1].startsWith('local-') ? tmp : HUB);
    const file = m && path.join(root!, m[1], m[2]);
    if (!file || !file.startsWith(root!) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Tolerances. float32 exports: torch and onnxruntime sum in different orders (seen: 1.7e-5 on logits,
 * 7e-6 on attention): bounds of 1e-4 and 5e-5.
 * float16: every weight and every intermediate is rounded to 11 significant bits (relative error up to
 * 2^-11 = 4.9e-4 each time) through two layers, and these random weights make sharp attention, where a
 * small error in a score moves a probability most. Seen (Llama / GPT-2): 0.035 / 0.009 on logits (which
 * reach |8.2| / |9.4|, where one float16 step is 0.008) and 0.011 / 0.004 on attention probabilities. The
 * bounds leave about 3x room; a wrong layer, head or mask would be off by 0.1 - 1 in attention.
 */
const FP32 = { logits: 1e-4, attention: 5e-5, rowSum: 1e-5 };
const FP16 = { logits: 0.1, attention: 0.03, rowSum: 2e-3 };

async function checkLayout(session: ModelSession, ref: Reference, tol: typeof FP32): Promise<void> {
  assert.equal(session.info.attention, 'available', session.info.attentionNote);
  const a = await session.analyze(ref.text, { attention: true });
  assert.deepEqual(a.tokens.map((t) => t.id), ref.ids);
  const T = ref.ids.length;
  const V = a.vocabSize;
  let worst = 0;
  for (let t = 0; t < T; t++) {
    const row = await a.row(t);
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(row[v] - ref.logits[t * V + v]));
  }
  assert.ok(worst <= tol.logits, `logits differ from torch by ${worst}`);
  // The loss the scoring head computes is torch's cross-entropy.
  for (let t = 1; t < T; t++) {
    const row = ref.logits.slice((t - 1) * V, t * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    assert.ok(Math.abs(a.tokens[t].loss! - (lse - row[ref.ids[t]])) <= 2 * tol.logits, `loss at ${t}`);
  }
  const att = a.attention!;
  assert.ok(att, 'attention was asked for');
  assert.equal(att.layers, ref.attention.length);
  assert.equal(att.heads, ref.attention[0].length);
  let worstAtt = 0;
  for (let l = 0; l < att.layers; l++) {
    for (let h = 0; h < att.heads; h++) {
      const w = (await a.attentionLayer(l)).heads[h];
      for (let q = 0; q < T; q++) {
        let sum = 0;
        for (let k = 0; k < T; k++) {
          sum += w[q * T + k];
          if (k > q) assert.equal(w[q * T + k], 0, `causal zero at layer ${l} head ${h} (${q}, ${k})`);
          worstAtt = Math.max(worstAtt, Math.abs(w[q * T + k] - ref.attention[l][h][q * T + k]));
        }
        assert.ok(Math.abs(sum - 1) <= tol.rowSum, `row ${q} sums to ${sum}`);
      }
    }
  }
  assert.ok(worstAtt <= tol.attention, `attention differs from torch by ${worstAtt}`);
}

async function fromHub(name: string, cacheDir = path.join(tmp, 'cache')): Promise<ModelSession> {
  return ModelSession.load(`token-lens-test/${name}`, { cacheDir, remoteHost: host });
}

for (const opset of [10, 11, 12, 13]) {
  test(`a GPT-2 export at opset ${opset} loads from the Hub with torch's logits and attention`, async () => {
    const session = await fromHub(`gpt2-opset${opset}`);
    try {
      await checkLayout(session, reference('gpt2'), FP32);
    } finally {
      await session.dispose();
    }
  });
}

test('a Llama export with grouped-query attention at opset 14 gives torch\'s logits and attention', async () => {
  const session = await fromHub('llama-opset14');
  try {
    await checkLayout(session, reference('llama'), FP32);
  } finally {
    await session.dispose();
  }
});

test('a merged decoder (decoder_model_merged.onnx only) is found, downloaded, and gives attention from its If branches', async () => {
  const session = await fromHub('gpt2-merged');
  try {
    assert.ok(requests.some((r) => r.includes('gpt2-merged/resolve/main/onnx/decoder_model_merged.onnx')));
    await checkLayout(session, reference('gpt2'), FP32);
    // generate() drives the same file with a growing cache (use_cache_branch true after the first step).
    const continuation = await session.generate('the', { maxNewTokens: 4, greedy: true });
    assert.equal(continuation.length, 4);
  } finally {
    await session.dispose();
  }
  const local = await ModelSession.load(path.join(HUB, 'gpt2-merged'), { cacheDir: path.join(tmp, 'cache-local') });
  try {
    await checkLayout(local, reference('gpt2'), FP32);
  } finally {
    await local.dispose();
  }
});

test('a float16 export (onnx/model_fp16.onnx only) loads with attention, cast to float32', async () => {
  const session = await fromHub('llama-fp16');
  try {
    assert.ok(requests.some((r) => r.includes('llama-fp16/resolve/main/onnx/model_fp16.onnx')));
    await checkLayout(session, reference('llama'), FP16);
    // generate() runs on the float16 cache, and picks what the float32 export of the same weights picks.
    const plain = await fromHub('llama-opset14');
    try {
      assert.equal(await session.generate('the', { maxNewTokens: 5, greedy: true }),
        await plain.generate('the', { maxNewTokens: 5, greedy: true }));
    } finally {
      await plain.dispose();
    }
  } finally {
    await session.dispose();
  }
  const local = await ModelSession.load(path.join(HUB, 'llama-fp16'), { cacheDir: path.join(tmp, 'cache-local') });
  try {
    await checkLayout(local, reference('llama'), FP16);
  } finally {
    await local.dispose();
  }
});

test('a float16 merged decoder (decoder_model_merged_fp16.onnx only) loads with attention from its If branches', async () => {
  const session = await fromHub('gpt2-merged-fp16');
  try {
    assert.ok(requests.some((r) => r.includes('gpt2-merged-fp16/resolve/main/onnx/decoder_model_merged_fp16.onnx')));
    await checkLayout(session, reference('gpt2'), FP16);
  } finally {
    await session.dispose();
  }
});

test('a folder or a Hub repository without any decoder file says which files it looked for', async () => {
  const dir = path.join(tmp, 'no-decoder');
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(HUB, 'gpt2-merged', f), path.join(dir, f));
  fs.copyFileSync(path.join(HUB, 'gpt2-merged', 'onnx', 'decoder_model_merged.onnx'), path.join(dir, 'onnx', 'decoder_model_quantized.onnx'));
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache-none') }),
    (e: Error) => e instanceof ModelLoadError && /missing onnx\/model\.onnx or onnx\/decoder_model_merged\.onnx or onnx\/model_fp16\.onnx/.test(e.message));
  fs.cpSync(dir, path.join(tmp, 'local-no-decoder'), { recursive: true });
  await assert.rejects(fromHub('local-no-decoder', path.join(tmp, 'cache-none-hub')),
    (e: Error) => e instanceof ModelLoadError && /has no ONNX decoder \(looked for onnx\/model\.onnx or /.test(e.message));
});
