// The vendored tiny BERT (vendor/tiny-bert-stories, trained in PyTorch by scripts/tiny-bert/train.py on
// stories that stories260K wrote), imported with `token-lens import` as a user would. PyTorch's own
// float64 outputs on one sentence (reference.json, written by the training script) are the oracle. The
// same checkpoint renamed to RoBERTa's layout (its position table shifted by RoBERTa's offset) must score
// exactly the same.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ModelSession } from '../../src/core/runtime/session';
import { readSafetensorsRef, writeSafetensorsRef } from '../reference/safetensors';
import { attentionWeights } from './attentionOf';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const vendor = path.join(root, 'vendor', 'tiny-bert-stories');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-tiny-bert-'));
const imported = path.join(tmp, 'tiny-bert');
const reference = JSON.parse(fs.readFileSync(path.join(vendor, 'reference.json'), 'utf8')) as {
  text: string; ids: number[]; mask: number; maskLogits: number[]; pseudoLosses: (number | null)[]; attention0: number[][];
};
let session: ModelSession;

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

before(async () => {
  const r = cli('import', '--from', vendor, '--out', imported);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^wrote .* \(huggingface bert: 2 layers, 4 heads, width 128, vocab \d+, context 64\)$/m);
  session = await ModelSession.load(imported, { cacheDir: path.join(tmp, 'cache') });
});

after(async () => {
  await session?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function assertMatchesPyTorch(s: ModelSession): Promise<void> {
  const a = await s.analyze(reference.text, { attention: true });
  assert.deepEqual(a.tokens.map((t) => t.id), reference.ids, 'the tokenizer reads the sentence as training did');
  a.tokens.forEach((t, i) => {
    const expected = reference.pseudoLosses[i];
    if (expected === null) assert.equal(t.loss, null, `${t.text} is not scored`);
    else assert.ok(Math.abs(t.loss! - expected) < 1e-4, `${t.text}: ${t.loss} vs PyTorch ${expected}`);
  });
  const row = await a.row(reference.mask);
  reference.maskLogits.forEach((v, i) => assert.ok(Math.abs(row[i] - v) < 1e-4, `logit ${i} at the mask`));
  const T = a.attention!.size;
  const first = (await attentionWeights(a))[0][0];
  reference.attention0.forEach((r, q) => r.forEach((v, k) => assert.ok(Math.abs(first[q * T + k] - v) < 1e-4)));
}

test('the imported tiny BERT scores as PyTorch does: every pseudo-loss, the logits at the mask, the attention', async () => {
  await assertMatchesPyTorch(session);
});

test('trained, it fills in the blanks of a story', async () => {
  const fill = async (text: string) => {
    const a = await session.analyze(text);
    const m = a.tokens.findIndex((t) => t.id === session.info.maskId);
    return a.topK(m, 3).map((c) => c.text);
  };
  assert.equal((await fill('Once upon a [MASK], there was a little girl named Lily.'))[0], 'time');
  assert.ok((await fill('Once upon a time, there was a little [MASK] named Lily.')).includes('girl'));
});

test('the blank the text spells out is a token under the cursor (the hover\'s look-up); [CLS] and [SEP] are not', async () => {
  const text = 'Once upon a time, there was a little [MASK] named Lily.';
  const a = await session.analyze(text);
  for (let offset = text.indexOf('[MASK]'); offset < text.indexOf('[MASK]') + '[MASK]'.length; offset++) {
    assert.equal(a.tokens[a.tokenIndexAt(offset)].id, session.info.maskId, `offset ${offset}`);
  }
  assert.equal(a.tokens[a.tokenIndexAt(0)].text, 'once');
  assert.equal(a.tokens[a.tokenIndexAt(text.length - 1)].text, '.');
});

test('the same checkpoint in RoBERTa\'s layout (offset positions, one segment) imports and scores the same', async () => {
  const bert = readSafetensorsRef(path.join(vendor, 'model.safetensors'));
  const f32 = (d: Float64Array) => Float32Array.from(d);
  const tensors: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const [name, t] of bert) {
    let renamed = name.replace(/^bert\./, 'roberta.').replace(/^cls\.predictions\.transform\./, 'lm_head.')
      .replace(/^cls\.predictions\.bias$/, 'lm_head.bias');
    if (renamed.startsWith('lm_head.LayerNorm')) renamed = renamed.replace('LayerNorm', 'layer_norm');
    if (name.endsWith('position_embeddings.weight')) {
      // RoBERTa's rows 0 and 1 are never a position (padding_idx 1): position p reads row p + 2.
      const C = t.shape[1];
      const data = new Float32Array((t.shape[0] + 2) * C).fill(7);
      data.set(f32(t.data), 2 * C);
      tensors.push([renamed, { shape: [t.shape[0] + 2, C], data }]);
    } else if (name.endsWith('token_type_embeddings.weight')) {
      tensors.push([renamed, { shape: [1, t.shape[1]], data: f32(t.data.subarray(0, t.shape[1])) }]);
    } else tensors.push([renamed, { shape: t.shape, data: f32(t.data) }]);
  }
  const dir = path.join(tmp, 'roberta-hf');
  fs.mkdirSync(dir);
  writeSafetensorsRef(path.join(dir, 'model.safetensors'), tensors);
  const config = JSON.parse(fs.readFileSync(path.join(vendor, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    ...config, model_type: 'roberta', architectures: ['RobertaForMaskedLM'], type_vocab_size: 1, pad_token_id: 1,
    max_position_embeddings: config.max_position_embeddings + 2,
  }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(vendor, f), path.join(dir, f));
  const out = path.join(tmp, 'roberta');
  const r = cli('import', '--from', dir, '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /huggingface roberta: 2 layers, 4 heads, width 128, vocab \d+, context 64\)/);
  const roberta = await ModelSession.load(out, { cacheDir: path.join(tmp, 'cache') });
  try {
    assert.equal(roberta.info.contextLength, 64);
    await assertMatchesPyTorch(roberta);
  } finally {
    await roberta.dispose();
  }
});
