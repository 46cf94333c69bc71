// Imported checkpoints through the path a user takes: import → model folder → ModelSession. Logits,
// per-token loss and every attention weight agree within 1e-4 with references that share no code with
// src/: the plain-JS forward over the original tensors (test/reference/hfReference.ts) and PyTorch's
// outputs (test/fixtures/import/*/expected.json, written by make_fixtures.py).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { importCheckpoint } from '../../src/core/importers/importCheckpoint';
import { ModelSession } from '../../src/core/runtime/session';
import type { Analysis } from '../../src/core/runtime/analysis';
import { hfReferenceForward, perTokenLoss } from '../reference/hfReference';
import { llama2cToHf } from '../reference/llama2cToHf';
import { attentionWeights } from './attentionOf';

const FIX = join(__dirname, '..', 'fixtures', 'import');
const STORIES = join(__dirname, '..', '..', 'vendor', 'stories260K');
const dir = mkdtempSync(join(tmpdir(), 'tl-import-forward-'));
const cacheDir = join(dir, 'cache');
after(() => rmSync(dir, { recursive: true, force: true }));

const TOL = 1e-4;
const TEXT = 'Once upon a time, the cat sat on the mat.\nThe end! 😀';

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = TOL) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= worst)) { worst = d; at = i; }
  }
  assert.ok(worst <= tol, `${what}: differs by ${worst} at ${at} (${got[at]} vs ${want[at]})`);
}

async function importAndLoad(from: string, name: string, tokenizer?: string): Promise<ModelSession> {
  const out = join(dir, name);
  await importCheckpoint({ from, out, tokenizer });
  return ModelSession.load(out, { cacheDir, threads: 1 });
}

/** Every logit row, loss and attention matrix of an analysis against reference logits / attention. */
async function compare(a: Analysis, logits: ArrayLike<number>[], attention: ArrayLike<number>[][], loss: number[]) {
  for (let t = 0; t < logits.length; t++) close(await a.row(t), logits[t], `logits after token ${t}`);
  close(a.tokens.slice(1).map((t) => t.loss!), loss, 'per-token loss');
  assert.ok(a.attention, 'attention is available');
  assert.equal(a.attention!.layers, attention.length);
  for (const [l, layer] of attention.entries()) {
    assert.equal(a.attention!.heads, layer.length, 'one matrix per query head');
    const got = await a.attentionLayer(l);
    layer.forEach((m, h) => close(got.heads[h], m, `attention ${l}.${h}`));
  }
}

for (const name of ['gpt2', 'gpt2-untied', 'llama', 'llama3', 'qwen2', 'mistral', 'gpt_neox']) {
  test(`${name}: the imported model matches the reference forward of the original checkpoint`, async () => {
    const session = await importAndLoad(join(FIX, name), name);
    try {
      const a = await session.analyze(TEXT, { attention: true });
      const ids = a.tokens.map((t) => t.id);
      assert.ok(ids.length >= 8, `${ids.length} tokens`);
      const ref = hfReferenceForward(join(FIX, name), ids);
      assert.equal(a.vocabSize, ref.logits[0].length, 'the full output width');
      await compare(a, ref.logits, ref.attention, perTokenLoss(ref.logits, ids));
    } finally {
      await session.dispose();
    }
  });
}

test('mistral: a text several sliding windows long is analysed whole, each query within its window', async () => {
  const session = await importAndLoad(join(FIX, 'mistral'), 'mistral-window');
  try {
    assert.equal(session.info.contextLength, 64, 'the context is max_position_embeddings, not the window');
    const a = await session.analyze(TEXT, { attention: true });
    assert.ok(!a.window.truncated && a.tokens.length > 3 * 8, `${a.tokens.length} tokens`);
    const ids = a.tokens.map((t) => t.id);
    const ref = hfReferenceForward(join(FIX, 'mistral'), ids);
    await compare(a, ref.logits, ref.attention, perTokenLoss(ref.logits, ids));
    const T = ids.length, last = (await attentionWeights(a))[1][0].subarray((T - 1) * T);
    assert.ok(last.subarray(0, T - 8).every((p) => p === 0) && last.subarray(T - 8).every((p) => p > 0), 'the band');
  } finally {
    await session.dispose();
  }
});

test('pytorch_model.bin (sharded, float16; attention and MLP biases, linear RoPE scaling) matches PyTorch', async () => {
  for (const name of ['llama-bin', 'llama-dynamic']) {
    const want = JSON.parse(readFileSync(join(FIX, name, 'expected.json'), 'utf8'));
    const session = await importAndLoad(join(FIX, name), name);
    try {
      const a = await session.analyze('Once upon a time, the cat sat on the mat.', { attention: true });
      assert.deepEqual(a.tokens.map((t) => t.id), want.ids);
      await compare(a, want.logits, want.attention.map((l: number[][][]) => l.map((h) => h.flat())), want.loss);
    } finally {
      await session.dispose();
    }
  }
});

for (const [name, prompt] of [['llama3', 'the cat'], ['mistral', 'Once upon a time, the cat']]) {
  test(`generation on an imported ${name} (KV cache${name === 'mistral' ? ' past the sliding window' : ''}) continues greedily as the reference does`, async () => {
    const session = await importAndLoad(join(FIX, name), `${name}-generate`);
    try {
      const ids = session.encode(prompt);
      const want = [...ids];
      for (let n = 0; n < 6; n++) {
        const last = hfReferenceForward(join(FIX, name), want).logits.at(-1)!;
        want.push(last.indexOf(Math.max(...last)));
      }
      const text = await session.generate(prompt, { greedy: true, maxNewTokens: 6 });
      // Compared as text, decoded by the folder's own tokenizer: byte tokens need not survive a re-encoding.
      const tok = await AutoTokenizer.from_pretrained(join(dir, `${name}-generate`), { local_files_only: true });
      const decode = (x: number[]) => tok.decode(x, { skip_special_tokens: true });
      assert.equal(text, decode(want).slice(decode(ids).length));
    } finally {
      await session.dispose();
    }
  });
}

test('nanoGPT, character level (compiled names, meta.pkl, no BOS): matches PyTorch, whatever the zip folder is called', async () => {
  const want = JSON.parse(readFileSync(join(FIX, 'nanogpt-char', 'expected.json'), 'utf8'));
  for (const file of ['ckpt.pt', 'renamed.pt']) {
    const session = await importAndLoad(join(FIX, 'nanogpt-char', file), `char-${file}`);
    try {
      const a = await session.analyze('Citizen: hear me, speak.', { attention: true });
      assert.deepEqual(a.tokens.map((t) => t.id), want.ids, 'one token per character, no BOS');
      await compare(a, want.logits, want.attention.map((l: number[][][]) => l.map((h) => h.flat())), want.loss);
    } finally {
      await session.dispose();
    }
  }
});

test('nanoGPT with the GPT-2 tokenizer, bias=False and a vocabulary padded to 50304: matches PyTorch over the full width', async () => {
  const want = JSON.parse(readFileSync(join(FIX, 'nanogpt-gpt2', 'expected.json'), 'utf8'));
  const session = await importAndLoad(join(FIX, 'nanogpt-gpt2', 'ckpt.pt'), 'nanogpt-gpt2', 'gpt2');
  try {
    const a = await session.analyze('The quick brown fox jumps over the lazy dog.', { attention: true });
    assert.deepEqual(a.tokens.map((t) => t.id), want.ids);
    assert.equal(a.vocabSize, 50304);
    for (const [t, row] of (want.logits as number[][]).entries()) {
      const full = await a.row(t);
      close(want.logit_ids.map((id: number) => full[id]), row, `logits after token ${t}`);
      let max = -Infinity;
      for (const v of full) max = Math.max(max, v);
      let z = 0;
      for (const v of full) z += Math.exp(v - max);
      close([max + Math.log(z)], [want.logsumexp[t]], `logsumexp of row ${t} (all 50304 logits)`);
    }
    close(a.tokens.slice(1).map((t) => t.loss!), want.loss, 'per-token loss');
    for (const [l, layer] of (want.attention as number[][][][]).entries()) {
      const got = await a.attentionLayer(l);
      layer.forEach((m, h) => close(got.heads[h], m.flat(), `attention ${l}.${h}`));
    }
  } finally {
    await session.dispose();
  }
});

test('stories260K in Hugging Face layout (q/k permuted as convert_llama_weights_to_hf.py does) gives the llama2.c import\'s numbers', async () => {
  const viaLlama2c = await importAndLoad(join(STORIES, 'stories260K.bin'), 'stories-llama2c', join(STORIES, 'tok512.bin'));
  const hf = join(dir, 'stories-hf-src');
  mkdirSync(hf);
  llama2cToHf(join(STORIES, 'stories260K.bin'), hf);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, 'stories-llama2c', f), join(hf, f));
  const viaHf = await importAndLoad(hf, 'stories-hf');
  try {
    const text = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
    const a = await viaLlama2c.analyze(text, { attention: true });
    const b = await viaHf.analyze(text, { attention: true });
    assert.deepEqual(b.tokens.map((t) => t.id), a.tokens.map((t) => t.id));
    for (let t = 0; t < a.tokens.length; t++) close(await b.row(t), await a.row(t), `logits after token ${t}`);
    close(b.tokens.slice(1).map((t) => t.loss!), a.tokens.slice(1).map((t) => t.loss!), 'per-token loss');
    for (let l = 0; l < 5; l++) {
      const [got, want] = [await b.attentionLayer(l), await a.attentionLayer(l)];
      for (let h = 0; h < 8; h++) close(got.heads[h], want.heads[h], `attention ${l}.${h}`);
    }
    assert.equal(b.tokens.find((t) => t.text === ' Lily')?.rank, a.tokens.find((t) => t.text === ' Lily')?.rank);
  } finally {
    await viaLlama2c.dispose();
    await viaHf.dispose();
  }
});
