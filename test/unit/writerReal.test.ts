// The Llama writer on the real pretrained stories260K: greedy decoding from BOS must tell llama2.c's story.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeModelOnnx } from '../../src/core/models/onnxWeights';
import { MODEL_PRESETS } from '../../src/core/models/presets';
import { decodeLlama2c, readLlama2c } from '../reference/llama2c';
import { referenceForward } from '../reference/forward';
import { maxAbsDiff, run, session } from '../reference/ortRun';

const dir = join(__dirname, '..', '..', 'vendor', 'stories260K');

test('stories260K written by the Llama writer greedily decodes the known opening', async () => {
  const { config, weights } = readLlama2c(join(dir, 'stories260K.bin'));
  assert.deepEqual(config, MODEL_PRESETS['stories260K']);
  const s = await session(writeModelOnnx(config, weights, { attentionOutputs: true }));
  let { out, present } = await run(s, config, [[1]]);
  const ids = [1];
  for (let n = 0; n < 24; n++) {
    const last = out.logits.data as Float32Array;
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    ids.push(best);
    ({ out, present } = await run(s, config, [[best]], { past: present }));
  }
  const text = decodeLlama2c(join(dir, 'tok512.bin'), ids);
  assert.ok(text.startsWith('Once upon a time, there was a little girl named Lily.'), text);

  const full = await run(s, config, [ids.slice(0, 16)]);
  const ref = referenceForward(config, weights, ids.slice(0, 16));
  assert.ok(maxAbsDiff(full.out.logits.data as Float32Array, ref.logits.flatMap((r) => Array.from(r))) < 1e-4);
});
