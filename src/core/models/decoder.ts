// The decoder every architecture shares, written once, top to bottom in the order data flows (as
// nanoGPT's model.py does). GPT-2, nanoGPT, Llama 2/3, Qwen2, Mistral, GPT-NeoX and llama2.c differ only
// in DecoderConfig's options (config.ts), never in a copy of this file.
//
// The code runs against `Ops`, a handful of tensor operations with two implementations:
//   - the autodiff tape (src/core/trainer/tapeOps.ts): static batch and length, gradients, LoRA;
//   - the inference graph (graphOps.ts): dynamic length, KV cache, attention outputs, what transformers.js runs.
// Activations are [B, T, C] between blocks and [B, heads, T, head_dim] inside attention.
import type { DecoderConfig } from './config';

/** Shapes use ONNX Reshape's conventions: 0 copies the input's dimension at that index, -1 is inferred. */
export interface Ops<T> {
  /** A weight by its name in config.ts. */
  weight(name: string): T;
  /**
   * x @ W (+ b) for each linear layer named (weights `${name}.weight` stored [in, out], biases `${name}.bias`).
   * Layers reading the same x may be computed as one product; the tape adds LoRA adapters here.
   */
  linear(x: T, names: string[], bias: boolean): T[];
  /** Rows of an embedding table at the input tokens: [B, T, C]. */
  embed(table: T): T;
  /** Rows of a table at the input positions: [T, C]. */
  atPositions(table: T): T;
  /** cos and sin of position * invFreq at the input positions: [T, invFreq.length] each. */
  rotary(invFreq: Float32Array): { cos: T; sin: T };

  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  scale(x: T, c: number): T;
  matmul(a: T, b: T): T;
  reshape(x: T, shape: number[]): T;
  transpose(x: T, perm: number[]): T;
  /** Broadcasts x to a shape (numpy rules; ones keep x's dimension). */
  expand(x: T, shape: number[]): T;
  split(x: T, axis: number, sizes: number[]): T[];
  concat(xs: T[], axis: number): T;

  layerNorm(x: T, weight: T, bias: T | null, eps: number): T;
  rmsNorm(x: T, weight: T, eps: number): T;
  gelu(x: T, flavour: 'tanh' | 'exact'): T;
  silu(x: T): T;
  softmax(x: T): T;

  /** Keys and values of every position so far ([B, Hkv, S, hd]): the past ones, then these. */
  cache(layer: number, k: T, v: T): [T, T];
  /**
   * Attention scores [B, H, T, S] with the keys a query may not see removed: later ones, padding and, with a
   * sliding window, those `window` or more positions back.
   */
  causal(scores: T, window: number | null): T;
  /** Attention scores with only padding keys removed: an encoder's tokens see both ways (encoder.ts). */
  padding?(scores: T): T;
  /** Rows of a table at the input's segment ids (BERT's token types): [B, T, C]. */
  segments?(table: T): T;
  /** Sees each layer's attention probabilities [B, H, T, S], one matrix per query head. */
  expose(layer: number, probs: T): void;
  /** Sees the residual stream [B, T, C] after each block (the logit lens reads it). */
  exposeHidden?(layer: number, x: T): void;
  /** Logits x @ E^T (+ bias [V]) against an embedding-shaped [V, C] matrix, over the model's whole vocabulary. */
  logits(x: T, table: T, bias?: T): T;
}

/** Every weight of a config, in a fixed order, with its shape (the names and layouts of config.ts). */
export function weightShapes(c: DecoderConfig): Map<string, number[]> {
  checkDecoderConfig(c);
  const { n_embd: C, d_ff: F } = c;
  const qDim = c.n_head * c.head_dim, kvDim = c.n_kv_head * c.head_dim;
  const m = new Map<string, number[]>([['tok_emb', [c.vocab_size, C]]]);
  if (c.position === 'learned') m.set('pos_emb', [c.block_size, C]);
  const linear = (name: string, fin: number, fout: number, bias: boolean) => {
    m.set(`${name}.weight`, [fin, fout]);
    if (bias) m.set(`${name}.bias`, [fout]);
  };
  const norm = (name: string) => {
    m.set(`${name}.weight`, [C]);
    if (c.norm === 'layernorm' && c.bias.norm) m.set(`${name}.bias`, [C]);
  };
  for (let i = 0; i < c.n_layer; i++) {
    const p = `layers.${i}.`;
    norm(p + 'ln_1');
    linear(p + 'attn.q', C, qDim, c.bias.qkv);
    linear(p + 'attn.k', C, kvDim, c.bias.qkv);
    linear(p + 'attn.v', C, kvDim, c.bias.qkv);
    linear(p + 'attn.o', qDim, C, c.bias.o);
    norm(p + 'ln_2');
    linear(p + 'mlp.up', C, F, c.bias.mlp);
    if (c.mlp === 'swiglu') linear(p + 'mlp.gate', C, F, c.bias.mlp);
    linear(p + 'mlp.down', F, C, c.bias.mlp);
  }
  norm('ln_f');
  if (!c.tied_head) m.set('head.weight', [c.vocab_size, C]);
  return m;
}

/** Throws a message naming the first inconsistency of a config. */
export function checkDecoderConfig(c: DecoderConfig): void {
  const fail = (why: string) => { throw new Error(`Inconsistent ${c.arch} model config: ${why}.`); };
  for (const k of ['vocab_size', 'n_layer', 'n_head', 'n_kv_head', 'n_embd', 'head_dim', 'd_ff', 'block_size'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail(`${k} is ${c[k]}`);
  }
  if (c.n_head % c.n_kv_head) fail(`${c.n_head} heads do not share ${c.n_kv_head} key/value heads evenly`);
  if (c.position === 'rope' && (c.rotary_dim <= 0 || c.rotary_dim % 2 || c.rotary_dim > c.head_dim)) {
    fail(`rotary_dim ${c.rotary_dim} must be even and within head_dim ${c.head_dim}`);
  }
}

/** RoPE's angle per position for each rotated pair, with the config's scaling (config.ts, RopeScaling). */
export function ropeInvFreq(c: DecoderConfig): Float32Array {
  const half = c.rotary_dim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / Math.pow(c.rope_theta, (2 * i) / c.rotary_dim));
  const s = c.rope_scaling;
  if (s?.rope_type === 'linear') for (let i = 0; i < half; i++) inv[i] /= s.factor;
  if (s?.rope_type === 'llama3') {
    // Hugging Face's _compute_llama3_parameters: long wavelengths slow down by `factor`, short ones stay,
    // the ones between blend smoothly.
    const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
    const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  return Float32Array.from(inv);
}

interface Rotary<T> { cos: T; sin: T }

/** Rotates the first rotary_dim dims of each head of x [B, T, n, hd] by the angles of its position. */
function rope<T>(c: DecoderConfig, ops: Ops<T>, x: T, r: Rotary<T>): T {
  const rot = c.rotary_dim, half = rot / 2;
  const [xr, pass] = rot < c.head_dim ? ops.split(x, -1, [rot, c.head_dim - rot]) : [x];
  let y: T;
  if (c.rope_layout === 'half') {
    // Hugging Face's rotate_half: dim i pairs with dim i + rot/2.
    const [x1, x2] = ops.split(xr, -1, [half, half]);
    y = ops.concat([ops.sub(ops.mul(x1, r.cos), ops.mul(x2, r.sin)), ops.add(ops.mul(x2, r.cos), ops.mul(x1, r.sin))], -1);
  } else {
    // llama2.c's: dims 2i and 2i+1 pair up.
    const [x0, x1] = ops.split(ops.reshape(xr, [0, 0, 0, half, 2]), -1, [1, 1]);
    const pairs = [ops.sub(ops.mul(x0, r.cos), ops.mul(x1, r.sin)), ops.add(ops.mul(x0, r.sin), ops.mul(x1, r.cos))];
    y = ops.reshape(ops.concat(pairs, -1), [0, 0, 0, rot]);
  }
  return pass ? ops.concat([y, pass], -1) : y;
}

function linear<T>(ops: Ops<T>, x: T, name: string, bias: boolean): T {
  return ops.linear(x, [name], bias)[0];
}

function norm<T>(c: DecoderConfig, ops: Ops<T>, x: T, name: string): T {
  const w = ops.weight(`${name}.weight`);
  if (c.norm === 'rmsnorm') return ops.rmsNorm(x, w, c.norm_eps);
  return ops.layerNorm(x, w, c.bias.norm ? ops.weight(`${name}.bias`) : null, c.norm_eps);
}

/** Grouped-query attention: query head h reads key/value head floor(h / (n_head / n_kv_head)). */
function repeatKv<T>(c: DecoderConfig, ops: Ops<T>, x: T): T {
  const rep = c.n_head / c.n_kv_head;
  if (rep === 1) return x;
  const grouped = ops.expand(ops.reshape(x, [0, 0, 1, -1, c.head_dim]), [1, 1, rep, 1, 1]);
  return ops.reshape(grouped, [0, c.n_head, -1, c.head_dim]);
}

function attention<T>(c: DecoderConfig, ops: Ops<T>, x: T, layer: number, r: Rotary<T> | null): T {
  const p = `layers.${layer}.attn.`;
  const hd = c.head_dim;
  const [qx, kx, vx] = ops.linear(x, [p + 'q', p + 'k', p + 'v'], c.bias.qkv);
  const heads = (t: T, n: number) => ops.reshape(t, [0, 0, n, hd]);
  let q = heads(qx, c.n_head), k = heads(kx, c.n_kv_head);
  const v = heads(vx, c.n_kv_head);
  if (r) { q = rope(c, ops, q, r); k = rope(c, ops, k, r); }
  const toHeads = (t: T) => ops.transpose(t, [0, 2, 1, 3]);
  const [keys, values] = ops.cache(layer, toHeads(k), toHeads(v));
  const scores = ops.matmul(toHeads(ops.scale(q, 1 / Math.sqrt(hd))), ops.transpose(repeatKv(c, ops, keys), [0, 1, 3, 2]));
  const probs = ops.softmax(ops.causal(scores, c.sliding_window));
  ops.expose(layer, probs);
  const y = ops.transpose(ops.matmul(probs, repeatKv(c, ops, values)), [0, 2, 1, 3]);
  return linear(ops, ops.reshape(y, [0, 0, c.n_head * hd]), p + 'o', c.bias.o);
}

function mlp<T>(c: DecoderConfig, ops: Ops<T>, x: T, layer: number): T {
  const p = `layers.${layer}.mlp.`;
  const up = linear(ops, x, p + 'up', c.bias.mlp);
  const h = c.mlp === 'swiglu' ? ops.mul(ops.silu(linear(ops, x, p + 'gate', c.bias.mlp)), up) : ops.gelu(up, c.gelu);
  return linear(ops, h, p + 'down', c.bias.mlp);
}

/** Logits [B, T, V] (the backend's layout) for the input tokens. */
export function decoder<T>(c: DecoderConfig, ops: Ops<T>): T {
  checkDecoderConfig(c);
  let x = ops.embed(ops.weight('tok_emb'));
  if (c.position === 'learned') x = ops.add(x, ops.atPositions(ops.weight('pos_emb')));
  let r: Rotary<T> | null = null;
  if (c.position === 'rope') {
    const { cos, sin } = ops.rotary(ropeInvFreq(c));
    // [T, rot/2] -> broadcast over batch and heads (and, interleaved, over the pair's two halves).
    const shape = c.rope_layout === 'half' ? [-1, 1, c.rotary_dim / 2] : [-1, 1, c.rotary_dim / 2, 1];
    r = { cos: ops.reshape(cos, shape), sin: ops.reshape(sin, shape) };
  }
  for (let i = 0; i < c.n_layer; i++) {
    const a = attention(c, ops, norm(c, ops, x, `layers.${i}.ln_1`), i, r);
    if (c.parallel_residual) {
      // GPT-NeoX: attention and MLP both read the block's input.
      x = ops.add(ops.add(x, a), mlp(c, ops, norm(c, ops, x, `layers.${i}.ln_2`), i));
    } else {
      x = ops.add(x, a);
      x = ops.add(x, mlp(c, ops, norm(c, ops, x, `layers.${i}.ln_2`), i));
    }
    ops.exposeHidden?.(i, x);
  }
  return head(c, ops, x);
}

/** The final norm and the unembedding: logits of a residual stream (the last block's, or any block's). */
export function head<T>(c: DecoderConfig, ops: Ops<T>, x: T): T {
  return ops.logits(norm(c, ops, x, 'ln_f'), ops.weight(c.tied_head ? 'tok_emb' : 'head.weight'));
}
