// Exports whose attention is one onnxruntime op (com.microsoft Attention, MultiHeadAttention,
// GroupQueryAttention, with and without RotaryEmbedding; test/fixtures/make_hub_fused.py writes them from
// the same weights as the plain exports) load from the Hub with attention, written out as plain ops, and
// give the plain export's logits and attention. onnxruntime runs the fused ops itself on CPU, so the
// fixtures' numbers are onnxruntime's own.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { BOOL, decodeModel, encodeModel } from '../../src/core/onnx/builder';
import { logitLens } from '../../src/core/lenses/logitLens';
import type { ModelSession } from '../../src/core/runtime/session';
import { FixtureHub, HUB, Reference, checkLayout, reference, serveFixtureHub } from './hubLayouts';
import { attentionWeights } from './attentionOf';
import { BUILT_CLI, cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-fused-'));
const cacheDir = path.join(tmp, 'cache');
let hub: FixtureHub;

before(async () => { hub = await serveFixtureHub(tmp); });
after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** What the plain export computes on the reference text: the numbers the fused export must give. */
async function plainNumbers(plain: ModelSession, text: string): Promise<Reference> {
  const a = await plain.analyze(text, { attention: true });
  const logits: number[] = [];
  for (let t = 0; t < a.tokens.length; t++) logits.push(...await a.row(t));
  return { text, ids: a.tokens.map((t) => t.id), logits, attention: (await attentionWeights(a)).map((l) => l.map((h) => Array.from(h))) };
}

// Both run on onnxruntime, the same sums in nearly the same order: 1e-4 is the bound asked of every layout.
const SAME = { logits: 1e-4, attention: 1e-4, rowSum: 1e-5 };
// Against torch (the reference files), as for the plain exports (runtimeHubLayouts.test.ts).
const TORCH = { logits: 1e-4, attention: 5e-5, rowSum: 1e-5 };

const LAYOUTS = [
  { fused: 'gpt2-attention', plain: 'gpt2-opset13', family: 'gpt2', op: 'Attention' },
  { fused: 'gpt2-mha', plain: 'gpt2-opset13', family: 'gpt2', op: 'MultiHeadAttention' },
  { fused: 'llama-rotary-gqa', plain: 'llama-opset14', family: 'llama', op: 'RotaryEmbedding + GroupQueryAttention' },
  { fused: 'llama16-gqa', plain: 'llama16-opset14', family: 'llama16', op: 'GroupQueryAttention with its own rotary' },
];

for (const l of LAYOUTS) {
  test(`${l.op} (${l.fused}) loads from the Hub with attention equal to the plain export's`, async () => {
    const fusedFile = fs.readFileSync(path.join(HUB, l.fused, 'onnx', 'model.onnx'));
    assert.ok(decodeModel(fusedFile).graph!.node!.some((n) => n.domain === 'com.microsoft'), 'the fixture is fused');
    const fused = await hub.load(l.fused, cacheDir);
    const plain = await hub.load(l.plain, cacheDir);
    try {
      const seen = await checkLayout(fused, await plainNumbers(plain, reference(l.family).text), SAME);
      await checkLayout(fused, reference(l.family), TORCH);
      console.log(`${l.fused}: largest difference from the plain export: logits ${seen.logits.toExponential(2)}, attention ${seen.attention.toExponential(2)}`);
      // generate() runs the rewritten graph with a growing past (present -> past each step).
      assert.equal(await fused.generate('the', { maxNewTokens: 6, greedy: true }), await plain.generate('the', { maxNewTokens: 6, greedy: true }));
    } finally {
      await fused.dispose();
      await plain.dispose();
    }
  });
}

/** A merged decoder (one `If` on use_cache_branch) whose two branches are the given export's graph. */
function mergedOf(file: string): Uint8Array {
  const model = decodeModel(fs.readFileSync(file));
  const g = model.graph!;
  const branch = (name: string): onnx.IGraphProto => ({ name, node: g.node, output: g.output, valueInfo: g.valueInfo });
  model.graph = {
    name: 'merged', initializer: g.initializer, output: g.output,
    input: [...g.input!, { name: 'use_cache_branch', type: { tensorType: { elemType: BOOL, shape: { dim: [{ dimValue: 1 }] } } } }],
    node: [{
      opType: 'If', name: 'optimum::if', input: ['use_cache_branch'], output: g.output!.map((o) => o.name!),
      attribute: [
        { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('with_past') },
        { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('no_past') },
      ],
    }],
  };
  return encodeModel(model);
}

test('a merged decoder whose branches fuse attention (Attention, SkipLayerNormalization) gives the plain export\'s attention and logit lens', async () => {
  const dir = path.join(tmp, 'local-merged-attention');
  fs.cpSync(path.join(HUB, 'gpt2-attention'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'onnx', 'decoder_model_merged.onnx'), mergedOf(path.join(dir, 'onnx', 'model.onnx')));
  fs.rmSync(path.join(dir, 'onnx', 'model.onnx'));
  const merged = await hub.load('local-merged-attention', cacheDir);
  const plain = await hub.load('gpt2-opset13', cacheDir);
  try {
    const text = reference('gpt2').text;
    await checkLayout(merged, await plainNumbers(plain, text), SAME);
    const [a, b] = [await logitLens(merged, text, 3), await logitLens(plain, text, 3)];
    assert.equal(a.layers, 2);
    a.top.forEach((layer, l) => layer.forEach((cell, t) => cell.forEach((c, j) => {
      assert.equal(c.id, b.top[l][t][j].id);
      assert.ok(Math.abs(c.prob - b.top[l][t][j].prob) <= 1e-5);
    })));
    assert.equal(await merged.generate('the', { maxNewTokens: 6, greedy: true }), await plain.generate('the', { maxNewTokens: 6, greedy: true }));
  } finally {
    await merged.dispose();
    await plain.dispose();
  }
});

test('a fused op with a setting that cannot be written out keeps the model working and says why attention is missing', async () => {
  const dir = path.join(tmp, 'local-smooth-softmax');
  fs.cpSync(path.join(HUB, 'llama-rotary-gqa'), dir, { recursive: true });
  const file = path.join(dir, 'onnx', 'model.onnx');
  const model = decodeModel(fs.readFileSync(file));
  for (const n of model.graph!.node!) {
    if (n.opType === 'GroupQueryAttention') n.attribute!.push({ name: 'smooth_softmax', type: 2, i: 1 });
  }
  fs.writeFileSync(file, encodeModel(model));
  const session = await hub.load('local-smooth-softmax', cacheDir);
  try {
    assert.equal(session.info.attention, 'unavailable');
    assert.match(session.info.attentionNote!, /^attention not available for this model export \(GroupQueryAttention with smooth_softmax 1 cannot be written out/);
    const a = await session.analyze(reference('llama').text, { attention: true });
    assert.equal(a.attention, null);
    assert.match(a.attentionNote!, /smooth_softmax/);
    assert.ok(a.tokens.slice(1).every((t) => Number.isFinite(t.loss)));
  } finally {
    await session.dispose();
  }
});

test('explain --attention --json on a GroupQueryAttention export prints its attention (CLI)', () => {
  const cli = cliRunner({ cache: path.join(tmp, 'cli-cache'), built: BUILT_CLI });
  const run = (model: string) => cli.json('explain', '--model', path.join(HUB, model), '--attention', '--json', reference('llama16').text);
  const fused = run('llama16-gqa');
  const plain = run('llama16-opset14');
  assert.equal(fused.attention.layers, 2);
  assert.equal(fused.attention.heads, 4);
  let worst = 0;
  fused.attention.weights.forEach((layer: number[][][], l: number) => layer.forEach((head: number[][], h: number) => head.forEach((row: number[], q: number) =>
    row.forEach((w: number, k: number) => { worst = Math.max(worst, Math.abs(w - plain.attention.weights[l][h][q][k])); }))));
  assert.ok(worst <= 1e-4, `attention differs from the plain export by ${worst}`);
  fused.next.forEach((c: { id: number; prob: number }, i: number) => {
    assert.equal(c.id, plain.next[i].id);
    assert.ok(Math.abs(c.prob - plain.next[i].prob) <= 1e-5);
  });
});
