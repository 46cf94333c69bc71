// Masked language models (BERT) through the paths a user takes: `write-random --arch bert` and `explain`
// on the command line, ModelSession.load/analyze, a Hub id. Logits, pseudo-log-likelihoods and every
// attention weight are checked against an independent float64 forward (test/reference/bert.ts) that reads
// the weights straight from the written ONNX file.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { bertConfig, encoderWeightShapes } from '../../src/core/models/encoder';
import { writeEncoderFolder } from '../../src/core/models/encoderFolder';
import { randomTensors } from '../../src/core/models/random';
import { runOutputs } from '../../src/core/runtime/forward';
import { maskedScores } from '../../src/core/runtime/masked';
import { ModelSession } from '../../src/core/runtime/session';
import { hoverMarkdown, showToken } from '../../src/extension/hoverText';
import { analysisMessage } from '../../src/protocol/fromAnalysis';
import { basicWordPieceVocabulary, wordPieceTokenizerFiles } from '../../src/core/tokenizers/wordpiece';
import { type BertSizes, bertForward, logSoftmax, pseudoLosses, readOnnxFloats } from '../reference/bert';
import { sharpen } from '../reference/ortRun';
import { attentionWeights } from './attentionOf';
import { cliRunner } from './runCli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-masked-'));
const cliModel = path.join(tmp, 'bert-cli');
const sharp = path.join(tmp, 'bert-sharp');
let session: ModelSession;
let sizes: BertSizes;

/** The three families' shapes: BERT's two segments, DistilBERT without segments, RoBERTa's offset positions. */
const FAMILIES = {
  bert: {},
  distilbert: { arch: 'distilbert', type_vocab_size: 0 },
  roberta: { arch: 'roberta', type_vocab_size: 1, position_offset: 2 },
} as const;
const families = new Map<string, { dir: string; sizes: BertSizes; session: ModelSession }>();

const cli = cliRunner({ cache: path.join(tmp, 'cache') });

before(async () => {
  const r = cli('write-random', '--arch', 'bert', '--preset', 'bert-tiny', '--context', '64', '--seed', '3', '--out', cliModel);
  assert.equal(r.code, 0, r.err);
  // Random weights at initialisation scale give near-uniform attention: sharpened, every weight matters.
  const vocab = basicWordPieceVocabulary();
  for (const [name, shape] of Object.entries(FAMILIES)) {
    const config = bertConfig({ n_layer: 2, n_head: 2, n_embd: 32, block_size: 48, vocab_size: vocab.length, ...shape });
    const weights = sharpen(randomTensors(encoderWeightShapes(config), config.n_layer, 11), 12);
    const dir = name === 'bert' ? sharp : path.join(tmp, `${name}-sharp`);
    await writeEncoderFolder(dir, { config, weights, tokenizer: wordPieceTokenizerFiles(vocab) });
    families.set(name, { dir, sizes: { ...config }, session: await ModelSession.load(dir, { cacheDir: path.join(tmp, 'cache') }) });
  }
  ({ session, sizes } = families.get('bert')!);
});

after(async () => {
  for (const f of families.values()) await f.session.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('a written BERT loads as a masked model: its mask token, no next-token generation', async () => {
  assert.equal(session.info.objective, 'masked');
  assert.equal(session.info.maskToken, '[MASK]');
  assert.equal(session.tokenText(session.info.maskId!), '[MASK]');
  await assert.rejects(session.generate('The dog'), /masked language model: it fills in blanks \(\[MASK\]\)/);
});

for (const family of Object.keys(FAMILIES)) {
  test(`${family}: pseudo-log-likelihood, every row and every attention weight match an independent float64 forward within 1e-4`, async () => {
    const { dir, sizes, session } = families.get(family)!;
    const weights = readOnnxFloats(path.join(dir, 'onnx', 'model.onnx'));
    const text = 'The dog saw [MASK] ball in the park.';
    const before = session.forwardCount;
    const a = await session.analyze(text, { attention: true });
    // The text as given and every token masked in turn: one batched pass.
    assert.equal(session.forwardCount - before, 1);
    const ids = a.tokens.map((t) => t.id);
    const maskId = session.info.maskId!;
    const scored = a.tokens.flatMap((t, i) => (!t.special && t.id !== maskId ? [i] : []));
    assert.ok(scored.length >= 8);
    const expected = pseudoLosses(sizes, weights, ids, maskId, scored);
    const plain = bertForward(sizes, weights, ids);
    for (const [i, t] of a.tokens.entries()) {
      if (!expected.has(i)) {
        assert.equal(t.loss, null, `${t.text} is not scored`);
        // Specials and the text's own mask: the row of the text as given.
        assert.ok(maxDiff(await a.row(i), plain.logits[i]) < 1e-4, `row ${i} (${t.text})`);
        continue;
      }
      assert.ok(Math.abs(t.loss! - expected.get(i)!) < 1e-4, `${t.text}: loss ${t.loss}, reference ${expected.get(i)}`);
      const masked = bertForward(sizes, weights, ids.map((id, j) => (j === i ? maskId : id))).logits[i];
      assert.ok(maxDiff(await a.row(i), masked) < 1e-4, `row ${i} (${t.text}) with it masked`);
      const rank = 1 + Array.from(masked).filter((v) => v > masked[t.id]).length;
      assert.equal(t.rank, rank);
    }
    const mean = [...expected.values()].reduce((s, v) => s + v, 0) / expected.size;
    assert.ok(Math.abs(a.meanLoss - mean) < 1e-4);
    // Attention of the text as given, both ways: a query attends to later keys too.
    const att = a.attention!;
    const attWeights = await attentionWeights(a);
    assert.equal(att.layers, 2);
    assert.equal(att.heads, 2);
    let above = 0;
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < 2; h++) {
        assert.ok(maxDiff(attWeights[l][h], plain.attention[l][h]) < 1e-4, `layer ${l} head ${h}`);
        const T = att.size;
        for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) above = Math.max(above, attWeights[l][h][q * T + k]);
      }
    }
    assert.ok(above > 0.3, `the weights are sharp enough to tell heads apart (max above the diagonal ${above})`);
  });
}

test('the distribution at a mask is the reference softmax at that position, ranked', async () => {
  const weights = readOnnxFloats(path.join(sharp, 'onnx', 'model.onnx'));
  const a = await session.analyze('a big [MASK] went home');
  const m = a.tokens.findIndex((t) => t.text === '[MASK]');
  assert.equal(a.rowScoring(m), m);
  const ref = logSoftmax(bertForward(sizes, weights, a.tokens.map((t) => t.id)).logits[m]);
  const top = a.topK(m, 5);
  const order = Array.from(ref.keys()).sort((x, y) => ref[y] - ref[x] || x - y).slice(0, 5);
  assert.deepEqual(top.map((c) => c.id), order);
  for (const c of top) assert.ok(Math.abs(Math.log(c.prob) - ref[c.id]) < 1e-4);
});

test('explain --json on a masked model: every mask with its fill-ins, every token with its pseudo-loss', () => {
  const r = cli('explain', '--model', cliModel, '--json', '--top-k', '4', '--attention', 'The [MASK] sat on the [MASK].');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.objective, 'masked');
  assert.equal(j.maskToken, '[MASK]');
  assert.equal(j.next, undefined, 'a masked model has no next token');
  const text = 'The [MASK] sat on the [MASK].';
  assert.deepEqual(j.masks.map((m: { start: number; end: number }) => text.slice(m.start, m.end)), ['[MASK]', '[MASK]']);
  for (const m of j.masks) {
    assert.equal(j.tokens[m.index].text, '[MASK]');
    assert.equal(j.tokens[m.index].loss, null);
    assert.equal(m.candidates.length, 4);
    for (let i = 1; i < 4; i++) assert.ok(m.candidates[i - 1].prob >= m.candidates[i].prob);
  }
  const scored = j.tokens.filter((t: { loss: number | null }) => t.loss !== null);
  assert.equal(scored.length, j.tokens.length - 4, '[CLS], [SEP] and the two masks are not scored');
  assert.ok(Math.abs(j.meanLoss - scored.reduce((s: number, t: { loss: number }) => s + t.loss, 0) / scored.length) < 1e-9);
  // Attention: T x T per head, every row a distribution over all tokens.
  const T = j.tokens.length;
  assert.equal(j.attention.weights[0][0].length, T);
  for (const row of j.attention.weights[0][0]) assert.ok(Math.abs(row.reduce((s: number, v: number) => s + v, 0) - 1) < 1e-5);
});

test('explain as text names the blanks; next-token lenses, generate and train refuse a masked model with a reason', () => {
  const r = cli('explain', '--model', cliModel, '--top-k', '3', 'a [MASK] dog');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^mean pseudo-loss \d+\.\d{4} nats, pseudo-perplexity /m);
  assert.match(r.out, /^fill in \[MASK\] at token 2 \(offset 2\):$/m);
  const none = cli('explain', '--model', cliModel, 'a dog');
  assert.match(none.out, /no \[MASK\] in the text/);
  const lens = cli('explain', '--model', cliModel, '--logit-lens', 'a [MASK] dog');
  assert.equal(lens.code, 2);
  assert.match(lens.err, /--logit-lens explains a causal model's next-token prediction; .* is a masked language model/);
  const gen = cli('generate', '--model', cliModel, 'a dog');
  assert.equal(gen.code, 1);
  assert.match(gen.err, /masked language model/);
  const story = path.join(tmp, 'story.txt');
  fs.writeFileSync(story, 'the dog went to the park. the dog saw a ball.');
  const train = cli('train', '--file', story, '--from', cliModel, '--steps', '2', '--out', path.join(tmp, 'tuned'));
  assert.equal(train.code, 1);
  assert.match(train.err, /is a masked language model \(bert\): this works on causal models \(next-token prediction\) only/);
  assert.ok(!fs.existsSync(path.join(tmp, 'tuned', 'config.json')));
});

test('write-random --arch bert refuses an unknown preset and a vocab.txt without BERT specials', () => {
  const r = cli('write-random', '--arch', 'bert', '--preset', 'gpt2-small', '--out', path.join(tmp, 'x'));
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown bert preset "gpt2-small"; choose one of: bert-tiny, bert-mini, bert-base/);
  const vocab = path.join(tmp, 'vocab.txt');
  fs.writeFileSync(vocab, 'a\nb\n[UNK]\n');
  const bad = cli('write-random', '--arch', 'bert', '--preset', 'bert-tiny', '--tokenizer', vocab, '--out', path.join(tmp, 'y'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not a BERT vocab\.txt: A BERT vocabulary needs \[PAD\], \[CLS\], \[SEP\], \[MASK\]/);
  assert.ok(!fs.existsSync(path.join(tmp, 'y', 'config.json')));
});

test('the hover of a masked model: a blank shows its fill-ins, a word its pseudo-loss and the row that scored it', async () => {
  const text = 'The dog saw [MASK] ball.';
  const a = await session.analyze(text);
  const m = a.tokens.findIndex((t) => t.id === session.info.maskId);
  const blank = hoverMarkdown({ candidates: a.topK(a.rowScoring(m)!, 3), actual: a.tokens[m], masked: true });
  assert.match(blank, /^\*\*Blank\*\* `\[MASK\]`: what the model fills in, from the text on both sides/);
  for (const c of a.topK(m, 3)) assert.ok(blank.includes(showToken(c.text)));
  const dog = a.tokens.findIndex((t) => t.text === 'dog');
  assert.equal(a.rowScoring(dog), dog);
  const word = hoverMarkdown({ candidates: a.topK(a.rowScoring(dog)!, 10), actual: a.tokens[dog], masked: true });
  assert.match(word, new RegExp(`^\\*\\*Actual\\*\\* \`dog\` .* · loss ${a.tokens[dog].loss!.toFixed(2)} nats \\(masked in turn\\)`));
});

test('the panel opens a masked model on its first blank, with the fill-ins there', async () => {
  const text = 'The dog saw [MASK] ball.';
  const a = await session.analyze(text);
  const controls = { temperature: 1, topK: 0, topP: 1 };
  // The panel asks for the end of the text, as it does for a causal model: a masked model has no next token.
  const msg = await analysisMessage(session.info, a, { controls, k: 5, selected: a.tokens.length - 1 });
  const m = a.tokens.findIndex((t) => t.id === session.info.maskId);
  assert.equal(msg.selected, m);
  assert.equal(msg.model.objective, 'masked');
  assert.deepEqual(msg.candidates.map((c) => c.id), a.topK(m, 5).map((c) => c.id));
  const noBlank = await session.analyze('The dog saw a ball.');
  const first = await analysisMessage(session.info, noBlank, { controls, k: 5, selected: noBlank.tokens.length - 1 });
  assert.equal(noBlank.tokens[first.selected].text, 'the');
});

test('the context is the position table without its offset: a RoBERTa reads exactly block_size tokens, and windows more', async () => {
  const { session: roberta, sizes: r, dir } = families.get('roberta')!;
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).max_position_embeddings, 50);
  assert.equal(roberta.info.contextLength, 48);
  const full = await roberta.analyze(Array(46).fill('the').join(' '));
  assert.equal(full.tokens.length, 48);
  assert.equal(full.window.truncated, false);
  const weights = readOnnxFloats(path.join(dir, 'onnx', 'model.onnx'));
  const ref = pseudoLosses(r, weights, full.tokens.map((t) => t.id), roberta.info.maskId!, [47 - 1]);
  assert.ok(Math.abs(full.tokens[46].loss! - ref.get(46)!) < 1e-4, 'the last position reads the last row of the table');
  const longer = await roberta.analyze(Array(60).fill('the').join(' '));
  assert.equal(longer.tokens.length, 48);
  assert.equal(longer.window.truncated, true);
});

test('a text too long for one pass is split into passes with the same scores; a caller who gives up stops it between two', async () => {
  const ort = await import('onnxruntime-node');
  const raw = await ort.InferenceSession.create(path.join(sharp, 'onnx', 'model.onnx'));
  const run = (rows: number[][], outputs: string[]) => runOutputs(raw, rows, { kvHeads: 2, headDim: 16 }, outputs);
  const tokens = session.tokenize('The dog saw [MASK] ball in the park.');
  const ids = tokens.map((t) => t.id);
  const special = (id: number) => tokens.some((t) => t.special && t.id === id);
  const V = session.info.vocabSize, rowBytes = ids.length * V * 4;
  const whole = await maskedScores(ids, session.info.maskId!, V, special, ['attentions.0'], { run });
  const split = await maskedScores(ids, session.info.maskId!, V, special, ['attentions.0'], { run, maxPassBytes: 3 * rowBytes });
  assert.equal(whole.passes, 1);
  assert.equal(split.passes, Math.ceil((whole.scored.filter(Boolean).length + 1) / 3));
  assert.ok(maxDiff(split.logits, whole.logits) < 1e-5);
  assert.ok(maxDiff(split.attentions![0], whole.attentions![0]) < 1e-6);
  let passes = 0;
  await assert.rejects(maskedScores(ids, session.info.maskId!, V, special, null, {
    run: (rows, outputs) => { passes++; return run(rows, outputs); },
    maxPassBytes: 3 * rowBytes,
    beforePass: () => { if (passes === 2) throw new Error('gave up'); },
  }), /gave up/);
  assert.equal(passes, 2);
  await raw.release();
});
