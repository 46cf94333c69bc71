// Exports made the way torch.onnx and Optimum make them (test/fixtures/hub, written by
// make_hub_exports.py + make_hub_variants.ts from the same random weights) load through the Hub download
// path and give torch's logits and attention probabilities: older opsets, a merged decoder (`If` on
// use_cache_branch), and a float16 export.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';
import { FixtureHub, HUB, checkLayout, reference, serveFixtureHub } from './hubLayouts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-layouts-'));
let hub: FixtureHub;
let requests: string[] = [];

before(async () => {
  hub = await serveFixtureHub(tmp);
  requests = hub.requests;
});

after(async () => {
  await hub.close();
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

async function fromHub(name: string, cacheDir = path.join(tmp, 'cache')): Promise<ModelSession> {
  return hub.load(name, cacheDir);
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
    (e: Error) => e instanceof ModelLoadError && /has no ONNX decoder: expected onnx\/model\.onnx or onnx\/decoder_model_merged\.onnx or onnx\/model_fp16\.onnx/.test(e.message) &&
      e.message.includes('found onnx/decoder_model_quantized.onnx'));
  fs.cpSync(dir, path.join(tmp, 'local-no-decoder'), { recursive: true });
  await assert.rejects(fromHub('local-no-decoder', path.join(tmp, 'cache-none-hub')),
    (e: Error) => e instanceof ModelLoadError && /has no ONNX decoder \(looked for onnx\/model\.onnx, /.test(e.message));
});
