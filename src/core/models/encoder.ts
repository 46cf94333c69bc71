// The encoder of masked language models (BERT, DistilBERT, RoBERTa), top to bottom in the order data
// flows, written against the same `Ops` as the decoder (decoder.ts): the inference graph's ops serve both.
//
// What differs from the decoder: every token sees every other (no causal mask), the norm comes after each
// residual add (post-LN), the embeddings add BERT's segment rows and are normed before the first block,
// and the head transforms the last stream once more before the (tied) unembedding. The model is trained
// to fill in blanks: logits[t] is the distribution of the token at position t, not of the next one.
//
//   tok_emb [V, C]   pos_emb [position_offset + block_size, C]   type_emb [type_vocab_size, C]
//   ln_emb.weight/bias [C]
//   layers.{i}.attn.{q,k,v}.weight [C, C] .bias [C]   layers.{i}.attn.o.weight [C, C] .bias [C]
//   layers.{i}.ln_1.weight/bias [C]                    (after attention)
//   layers.{i}.mlp.up.weight [C, F] .bias [F]          layers.{i}.mlp.down.weight [F, C] .bias [C]
//   layers.{i}.ln_2.weight/bias [C]                    (after the MLP)
//   mlm.dense.weight [C, C] .bias [C]   mlm.ln.weight/bias [C]   mlm.bias [V]   (the head reads tok_emb)
//
// x = LN_emb(tok + pos + type); per block: x = LN_1(x + attn(x)); x = LN_2(x + down(gelu(up(x))));
// logits = LN_mlm(gelu(dense(x))) @ tok_emb^T + mlm.bias.
import type { Ops } from './decoder';

export interface EncoderConfig {
  /** The family the weights came from: 'bert', 'distilbert' or 'roberta'. */
  arch: string;
  vocab_size: number;
  n_layer: number;
  n_head: number;
  n_embd: number;
  /** MLP hidden width. */
  d_ff: number;
  /** Context length. */
  block_size: number;
  /** Rows of BERT's segment embedding; 0 when there is none (DistilBERT). Every token is segment 0. */
  type_vocab_size: number;
  /** RoBERTa numbers positions from padding_idx + 1 (2): rows before that are never read. */
  position_offset: number;
  norm_eps: number;
  gelu: 'tanh' | 'exact';
}

/** BERT's defaults (exact GELU, LayerNorm eps 1e-12, 2 segments, MLP 4x wide) with the given sizes. */
export function bertConfig(s: Pick<EncoderConfig, 'n_layer' | 'n_head' | 'n_embd' | 'block_size' | 'vocab_size'> & Partial<EncoderConfig>): EncoderConfig {
  return { arch: 'bert', d_ff: 4 * s.n_embd, type_vocab_size: 2, position_offset: 0, norm_eps: 1e-12, gelu: 'exact', ...s };
}

/** Every weight of an encoder config, in a fixed order, with its shape. */
export function encoderWeightShapes(c: EncoderConfig): Map<string, number[]> {
  checkEncoderConfig(c);
  const { n_embd: C, d_ff: F, vocab_size: V } = c;
  const m = new Map<string, number[]>([['tok_emb', [V, C]], ['pos_emb', [c.position_offset + c.block_size, C]]]);
  if (c.type_vocab_size) m.set('type_emb', [c.type_vocab_size, C]);
  const linear = (name: string, fin: number, fout: number) => {
    m.set(`${name}.weight`, [fin, fout]);
    m.set(`${name}.bias`, [fout]);
  };
  const norm = (name: string) => {
    m.set(`${name}.weight`, [C]);
    m.set(`${name}.bias`, [C]);
  };
  norm('ln_emb');
  for (let i = 0; i < c.n_layer; i++) {
    const p = `layers.${i}.`;
    for (const w of ['q', 'k', 'v', 'o']) linear(`${p}attn.${w}`, C, C);
    norm(p + 'ln_1');
    linear(p + 'mlp.up', C, F);
    linear(p + 'mlp.down', F, C);
    norm(p + 'ln_2');
  }
  linear('mlm.dense', C, C);
  norm('mlm.ln');
  m.set('mlm.bias', [V]);
  return m;
}

export function checkEncoderConfig(c: EncoderConfig): void {
  const fail = (why: string) => { throw new Error(`Inconsistent ${c.arch} model config: ${why}.`); };
  for (const k of ['vocab_size', 'n_layer', 'n_head', 'n_embd', 'd_ff', 'block_size'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail(`${k} is ${c[k]}`);
  }
  if (c.n_embd % c.n_head) fail(`width ${c.n_embd} does not split into ${c.n_head} heads`);
  if (!Number.isInteger(c.type_vocab_size) || c.type_vocab_size < 0) fail(`type_vocab_size is ${c.type_vocab_size}`);
  if (!Number.isInteger(c.position_offset) || c.position_offset < 0) fail(`position_offset is ${c.position_offset}`);
}

function linear<T>(ops: Ops<T>, x: T, name: string): T {
  return ops.linear(x, [name], true)[0];
}

function norm<T>(c: EncoderConfig, ops: Ops<T>, x: T, name: string): T {
  return ops.layerNorm(x, ops.weight(`${name}.weight`), ops.weight(`${name}.bias`), c.norm_eps);
}

function attention<T>(c: EncoderConfig, ops: Ops<T>, x: T, layer: number): T {
  const p = `layers.${layer}.attn.`;
  const hd = c.n_embd / c.n_head;
  const [q, k, v] = ops.linear(x, [p + 'q', p + 'k', p + 'v'], true)
    .map((t) => ops.transpose(ops.reshape(t, [0, 0, c.n_head, hd]), [0, 2, 1, 3]));
  const scores = ops.matmul(ops.scale(q, 1 / Math.sqrt(hd)), ops.transpose(k, [0, 1, 3, 2]));
  // Both ways: only padding is hidden. This is the whole difference from a causal model's attention.
  const probs = ops.softmax(ops.padding!(scores));
  ops.expose(layer, probs);
  const y = ops.transpose(ops.matmul(probs, v), [0, 2, 1, 3]);
  return linear(ops, ops.reshape(y, [0, 0, c.n_embd]), p + 'o');
}

function mlp<T>(c: EncoderConfig, ops: Ops<T>, x: T, layer: number): T {
  const p = `layers.${layer}.mlp.`;
  return linear(ops, ops.gelu(linear(ops, x, p + 'up'), c.gelu), p + 'down');
}

/** Logits [B, T, V]: row t is the model's distribution for the token at position t. */
export function encoder<T>(c: EncoderConfig, ops: Ops<T>): T {
  checkEncoderConfig(c);
  if (!ops.padding || !ops.segments) throw new Error('these ops cannot run an encoder (no bidirectional attention)');
  let positions = ops.weight('pos_emb');
  if (c.position_offset) positions = ops.split(positions, 0, [c.position_offset, c.block_size])[1];
  let x = ops.add(ops.embed(ops.weight('tok_emb')), ops.atPositions(positions));
  if (c.type_vocab_size) x = ops.add(x, ops.segments(ops.weight('type_emb')));
  x = norm(c, ops, x, 'ln_emb');
  for (let i = 0; i < c.n_layer; i++) {
    x = norm(c, ops, ops.add(x, attention(c, ops, x, i)), `layers.${i}.ln_1`);
    x = norm(c, ops, ops.add(x, mlp(c, ops, x, i)), `layers.${i}.ln_2`);
    ops.exposeHidden?.(i, x);
  }
  const h = norm(c, ops, ops.gelu(linear(ops, x, 'mlm.dense'), c.gelu), 'mlm.ln');
  return ops.logits(h, ops.weight('tok_emb'), ops.weight('mlm.bias'));
}
