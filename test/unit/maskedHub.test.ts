// A masked language model by Hub id: a local HTTP server on 127.0.0.1 plays the Hub and serves a BERT
// shaped like a foreign export (config.json without Token Lens's own section, a graph with only `logits`
// as output). transformers.js downloads it as a masked model, graph surgery exposes its attention, and
// it scores exactly as the folder Token Lens wrote.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { ModelSession } from '../../src/core/runtime/session';
import { attentionWeights } from './attentionOf';
import { type HubServer, serveFolder } from './hubServer';
import { cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-masked-hub-'));
const written = path.join(tmp, 'written');
const served = path.join(tmp, 'served');
let server: HubServer;

before(async () => {
  const r = cliRunner({ cache: path.join(tmp, 'cache') })(
    'write-random', '--arch', 'bert', '--preset', 'bert-tiny', '--context', '64', '--seed', '9', '--out', written);
  assert.equal(r.code, 0, r.err);
  // As an exporter writes a BERT: Hugging Face's config only, and logits as the one output.
  fs.mkdirSync(path.join(served, 'onnx'), { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(written, f), path.join(served, f));
  const { token_lens: _, ...config } = JSON.parse(fs.readFileSync(path.join(written, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(served, 'config.json'), JSON.stringify(config));
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(written, 'onnx', 'model.onnx')));
  const graph = model.graph!;
  graph.output = graph.output!.filter((o) => o.name === 'logits');
  graph.node = graph.node!.filter((n) => !(n.output ?? []).some((o) => /^(attentions|hidden_states)\./.test(o)));
  fs.writeFileSync(path.join(served, 'onnx', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  server = await serveFolder('token-lens-test/bert', served);
});

after(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a BERT by Hub id downloads, loads as a masked model, shows attention and scores as the written folder', async () => {
  const cacheDir = path.join(tmp, 'cache');
  const text = 'The little [MASK] went to the park.';
  const hub = await ModelSession.load('token-lens-test/bert', { cacheDir, remoteHost: server.host });
  const local = await ModelSession.load(written, { cacheDir });
  try {
    assert.ok(server.requests.some((r) => r.includes('onnx/model.onnx')));
    assert.equal(hub.info.objective, 'masked');
    assert.equal(hub.info.maskToken, '[MASK]');
    assert.equal(hub.info.attention, 'available', 'attention exposed by graph surgery');
    const a = await hub.analyze(text, { attention: true });
    const b = await local.analyze(text, { attention: true });
    assert.deepEqual(a.tokens.map((t) => [t.text, t.start, t.end]), b.tokens.map((t) => [t.text, t.start, t.end]));
    for (const [i, t] of a.tokens.entries()) {
      const u = b.tokens[i];
      assert.equal(t.loss === null, u.loss === null);
      if (t.loss !== null) assert.ok(Math.abs(t.loss - u.loss!) < 1e-5, `${t.text}`);
    }
    const m = a.tokens.findIndex((t) => t.text === '[MASK]');
    assert.deepEqual(a.topK(m, 5).map((c) => c.id), b.topK(m, 5).map((c) => c.id));
    assert.equal(a.attention!.layers, 2);
    const [wa, wb] = [await attentionWeights(a), await attentionWeights(b)];
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < a.attention!.heads; h++) {
        const x = wa[l][h], y = wb[l][h];
        for (let k = 0; k < x.length; k++) assert.ok(Math.abs(x[k] - y[k]) < 1e-6);
      }
    }
  } finally {
    await hub.dispose();
    await local.dispose();
  }
});
