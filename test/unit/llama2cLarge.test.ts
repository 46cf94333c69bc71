// The importer on checkpoints of other sizes in the same legacy llama2.c format: a stories15M-shaped
// one, and a small one whose classifier is not shared (negative vocab_size). The checkpoints are written
// here straight from the format description, with random weights, and checked against the reference forward.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { DecoderConfig, Weights } from '../../src/core/models/config';
import { MODEL_PRESETS, llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { syntheticLlamaTokenizer } from '../../src/core/tokenizers/synthetic';
import { ModelSession } from '../../src/core/runtime/session';
import { referenceForward } from '../reference/forward';
import { sharpen } from '../reference/ortRun';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-llama2c-large-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** llama2.c's legacy checkpoint: 7 int32, then float32 arrays; linears [out, in]; RoPE tables; wcls if unshared. */
function writeCheckpoint(file: string, c: DecoderConfig, w: Weights): void {
  const hd = c.head_dim;
  const parts: Float32Array[] = [];
  const raw = (name: string) => parts.push(w.get(name)!.data);
  const linear = (name: string) => {
    const { data, shape: [inp, out] } = w.get(name)!;
    const t = new Float32Array(inp * out);
    for (let i = 0; i < inp; i++) for (let o = 0; o < out; o++) t[o * inp + i] = data[i * out + o];
    parts.push(t);
  };
  const each = (f: (l: number) => void) => { for (let l = 0; l < c.n_layer; l++) f(l); };
  // llama2.c's order and names: wq wk wv wo, w1 (gate) w2 (down) w3 (up).
  raw('tok_emb');
  each((l) => raw(`layers.${l}.ln_1.weight`));
  for (const m of ['q', 'k', 'v', 'o']) each((l) => linear(`layers.${l}.attn.${m}.weight`));
  each((l) => raw(`layers.${l}.ln_2.weight`));
  for (const m of ['gate', 'down', 'up']) each((l) => linear(`layers.${l}.mlp.${m}.weight`));
  raw('ln_f.weight');
  parts.push(new Float32Array(c.block_size * hd / 2), new Float32Array(c.block_size * hd / 2));
  if (!c.tied_head) raw('head.weight');
  const header = Int32Array.from([c.n_embd, c.d_ff, c.n_layer, c.n_head, c.n_kv_head,
    c.tied_head ? c.vocab_size : -c.vocab_size, c.block_size]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(header.buffer), ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]));
}

/** llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. */
function writeTokenizer(file: string, vocab: number): void {
  const tok = syntheticLlamaTokenizer(vocab);
  const chunks: Buffer[] = [Buffer.from(Int32Array.from([tok.maxTokenLength]).buffer)];
  tok.pieces.forEach((p, i) => {
    const bytes = Buffer.from(p, 'utf8');
    chunks.push(Buffer.from(Float32Array.from([tok.scores[i]]).buffer), Buffer.from(Int32Array.from([bytes.length]).buffer), bytes);
  });
  fs.writeFileSync(file, Buffer.concat(chunks));
}

async function importAndCompare(name: string, config: DecoderConfig): Promise<void> {
  // Sharpened so that the logits spread out and a misplaced tensor changes the losses by far more than 1e-4.
  const weights = sharpen(randomWeights(config, 11), 12);
  const checkpoint = path.join(tmp, `${name}.bin`);
  const tokenizer = path.join(tmp, `${name}-tok.bin`);
  writeCheckpoint(checkpoint, config, weights);
  writeTokenizer(tokenizer, config.vocab_size);
  const out = path.join(tmp, name);
  const { config: imported } = await importLlama2c({ checkpoint, tokenizer, out });
  assert.deepEqual(imported, config);
  const session = await ModelSession.load(out, { cacheDir: path.join(tmp, 'cache') });
  try {
    const a = await session.analyze('Hello there, tiny model.');
    const ids = a.tokens.map((t) => t.id);
    const ref = referenceForward(config, weights, ids);
    for (let t = 1; t < ids.length; t++) {
      const row = ref.logits[t - 1];
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      const want = lse - row[ids[t]];
      // float32 through 6 layers of sharpened weights: losses near 20 nats agree to about 1e-5 relative.
      assert.ok(Math.abs(a.tokens[t].loss! - want) < 1e-5 * Math.max(10, want), `${name}: loss at ${t}: ${a.tokens[t].loss} vs ${want}`);
    }
  } finally {
    await session.dispose();
  }
}

test('a stories15M-shaped checkpoint (dim 288, 6 layers, vocab 32000) imports and runs like the reference', async () => {
  await importAndCompare('stories15M', MODEL_PRESETS.stories15M);
});

test('a checkpoint with its own classifier (negative vocab_size) imports and runs like the reference', async () => {
  await importAndCompare('unshared', llamaConfig({ n_embd: 32, d_ff: 64, n_layer: 2, n_head: 4, n_kv_head: 2, vocab_size: 320,
    block_size: 64, tied_head: false }));
});
