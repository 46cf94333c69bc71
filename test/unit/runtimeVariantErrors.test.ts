// A model file that is there but does not load: the message names the file, since a folder may hold
// several (model.onnx, model_fp16.onnx, decoder_model_merged.onnx) and the user must know which one failed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeModel, encodeModel } from '../../src/core/onnx/builder';
import { ModelLoadError } from '../../src/core/runtime/modelFiles';
import { ModelSession } from '../../src/core/runtime/session';
import { FixtureHub, HUB, serveFixtureHub } from './hubLayouts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-variant-errors-'));
let hub: FixtureHub;
before(async () => { hub = await serveFixtureHub(tmp); });
after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of a fixture folder whose one decoder file is replaced by `bytes`. */
function folderWith(name: string, from: string, file: string, bytes: Uint8Array): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(HUB, from, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, file), bytes);
  return dir;
}

test('a truncated float16 file: the message names onnx/model_fp16.onnx', async () => {
  const whole = fs.readFileSync(path.join(HUB, 'llama-fp16', 'onnx', 'model_fp16.onnx'));
  const dir = folderWith('local-truncated', 'llama-fp16', 'onnx/model_fp16.onnx', whole.subarray(0, whole.length / 2));
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') }),
    (e: Error) => e instanceof ModelLoadError && /^Could not read the model file onnx\/model_fp16\.onnx \(/.test(e.message));
  await assert.rejects(hub.load('local-truncated', path.join(tmp, 'cache-hub')), (e: Error) => e instanceof ModelLoadError
    && /^onnx\/model_fp16\.onnx of "token-lens-test\/local-truncated" was downloaded but does not load: /.test(e.message));
});

test('a merged decoder onnxruntime refuses: the message names onnx/decoder_model_merged.onnx', async () => {
  const model = decodeModel(fs.readFileSync(path.join(HUB, 'gpt2-merged', 'onnx', 'decoder_model_merged.onnx')));
  const branch = model.graph!.node![0].attribute!.find((a) => a.g)!.g!;
  branch.node!.find((n) => n.opType === 'MatMul')!.opType = 'NoSuchOp';
  const dir = folderWith('local-broken-merged', 'gpt2-merged', 'onnx/decoder_model_merged.onnx', encodeModel(model));
  // The first line of onnxruntime's reason, then the whole of it in the details.
  await assert.rejects(ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') }), (e: Error) => e instanceof ModelLoadError
    && /^Could not load onnx\/decoder_model_merged\.onnx of the model in .+local-broken-merged: /.test(e.message));
  await assert.rejects(hub.load('local-broken-merged', path.join(tmp, 'cache-hub')), (e: Error) => e instanceof ModelLoadError
    && /^onnx\/decoder_model_merged\.onnx of "token-lens-test\/local-broken-merged" was downloaded but does not load: /.test(e.message));
});
