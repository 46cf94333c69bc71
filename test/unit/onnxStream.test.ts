// The streamed model file is the same model: onnxruntime runs it, and it decodes to what encodeModel makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { decodeModel, encodeModel, FLOAT, GraphBuilder } from '../../src/core/onnx/builder';
import { writeFileAtomic } from '../../src/core/fsAtomic';
import { modelFileParts } from '../../src/core/onnx/streamEncode';

test('modelFileParts written in order: same model as encodeModel, and onnxruntime computes with its weights', async () => {
  const g = new GraphBuilder('stream');
  const x = g.input('x', FLOAT, [2, 3]);
  // A weight large enough for multi-byte lengths, and an empty tensor.
  const W = Float32Array.from({ length: 3 * 300 }, (_, i) => Math.sin(i));
  const w = g.init('w', W, [3, 300]);
  g.init('empty', new Float32Array(0), [0]);
  const b = g.init('b', Float32Array.from({ length: 300 }, (_, i) => i / 7), [300]);
  const y = g.op('Add', [g.op('MatMul', [x, w]), b]);
  g.output(y, FLOAT, [2, 300]);
  const model = g.toModel();
  const dir = mkdtempSync(join(tmpdir(), 'tl-stream-'));
  try {
    const path = join(dir, 'model.onnx');
    await writeFileAtomic(path, modelFileParts(model));
    const bytes = readFileSync(path);
    const json = (m: onnx.ModelProto) => JSON.stringify(onnx.ModelProto.toObject(m, { bytes: String }));
    assert.ok(json(decodeModel(bytes)) === json(decodeModel(encodeModel(model))), 'the decoded models differ');
    const session = await ort.InferenceSession.create(bytes);
    const X = Float32Array.of(1, 2, 3, -1, 0.5, 2);
    const out = (await session.run({ x: new ort.Tensor('float32', X, [2, 3]) }))[session.outputNames[0]].data as Float32Array;
    for (const [r, c] of [[0, 0], [1, 299], [0, 150]]) {
      let want = c / 7;
      for (let k = 0; k < 3; k++) want += X[r * 3 + k] * W[k * 300 + c];
      assert.ok(Math.abs(out[r * 300 + c] - want) < 1e-5);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
