// Llama as an ONNX decoder graph, matching llama2.c's run.c: RMSNorm, RoPE on interleaved pairs,
// grouped-query attention, SwiGLU MLP, final norm, classifier shared with the embedding unless
// an `output` weight exists.
import { GraphBuilder } from '../onnx/builder';
import type { LlamaConfig, Weights } from './config';
import type { WriteOptions } from './gpt2';
import { addWeights, attention, declareInputs, declareOutputs, linear, lmHead, Shape, splitHeads } from './graphParts';
import { weightShapes } from './random';

export const ROPE_COS = 'rope.cos';
export const ROPE_SIN = 'rope.sin';

export function llamaShape(c: LlamaConfig): Shape {
  return { layers: c.n_layers, heads: c.n_heads, kvHeads: c.n_kv_heads, headDim: c.dim / c.n_heads, vocab: c.vocab_size };
}

/** cos/sin of pos * theta^(-i/hd) for even i, [seq_len, hd/2], rounded through float32 like run.c. */
export function ropeTables(c: LlamaConfig): { cos: Float32Array; sin: Float32Array } {
  const hd = c.dim / c.n_heads;
  const half = hd / 2;
  const cos = new Float32Array(c.seq_len * half);
  const sin = new Float32Array(c.seq_len * half);
  for (let j = 0; j < half; j++) {
    const freq = Math.fround(1 / Math.fround(Math.pow(c.rope_theta, Math.fround((2 * j) / hd))));
    for (let pos = 0; pos < c.seq_len; pos++) {
      const val = Math.fround(pos * freq);
      cos[pos * half + j] = Math.cos(val);
      sin[pos * half + j] = Math.sin(val);
    }
  }
  return { cos, sin };
}

/** x / sqrt(mean(x^2) + eps) * w */
function rmsNorm(g: GraphBuilder, x: string, w: string, eps: number): string {
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  const rms = g.op('Sqrt', [g.op('Add', [ms, g.constFloat([eps])])]);
  return g.op('Mul', [g.op('Div', [x, rms]), w]);
}

interface Rope { cos: string; sin: string }

/** Rotates pairs (2i, 2i+1) of each head of x [B, T, n, hd] by the angles of its position. */
function rope(g: GraphBuilder, x: string, r: Rope, n: number, hd: number): string {
  const pairs = g.op('Reshape', [x, g.constInt64([0, 0, n, hd / 2, 2])]);
  const [x0, x1] = g.node('Split', [pairs], { axis: -1 }, 2);
  const y0 = g.op('Sub', [g.op('Mul', [x0, r.cos]), g.op('Mul', [x1, r.sin])]);
  const y1 = g.op('Add', [g.op('Mul', [x0, r.sin]), g.op('Mul', [x1, r.cos])]);
  return g.op('Reshape', [g.op('Concat', [y0, y1], { axis: -1 }), g.constInt64([0, 0, n, hd])]);
}

export function buildLlamaGraph(c: LlamaConfig, weights: Weights, opts: WriteOptions = {}): GraphBuilder {
  if (c.dim % c.n_heads || c.n_heads % c.n_kv_heads || (c.dim / c.n_heads) % 2) {
    throw new Error(`dim ${c.dim}, n_heads ${c.n_heads}, n_kv_heads ${c.n_kv_heads} do not divide evenly`);
  }
  const g = new GraphBuilder('llama');
  const s = llamaShape(c);
  const attentionOutputs = opts.attentionOutputs ?? false;
  const io = declareInputs(g, s);
  addWeights(g, weights, weightShapes(c));
  const tables = ropeTables(c);
  g.init(ROPE_COS, tables.cos, [c.seq_len, s.headDim / 2]);
  g.init(ROPE_SIN, tables.sin, [c.seq_len, s.headDim / 2]);
  // [T, hd/2] -> [1, T, 1, hd/2, 1], broadcast over batch, heads and the pair's two halves.
  const at = (table: string) => g.op('Unsqueeze', [g.op('Gather', [table, io.positions]), g.constInt64([0, 2, 4])]);
  const r: Rope = { cos: at(ROPE_COS), sin: at(ROPE_SIN) };

  let x = g.op('Gather', ['tok_embeddings', io.inputIds]);
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}`;
    const h = rmsNorm(g, x, `${p}.attention_norm`, c.norm_eps);
    const q = rope(g, splitHeads(g, linear(g, h, `${p}.attention.wq`), s.heads, s.headDim), r, s.heads, s.headDim);
    const k = rope(g, splitHeads(g, linear(g, h, `${p}.attention.wk`), s.kvHeads, s.headDim), r, s.kvHeads, s.headDim);
    const v = splitHeads(g, linear(g, h, `${p}.attention.wv`), s.kvHeads, s.headDim);
    const a = attention(g, s, { layer: i, q, k, v, mask: io.mask, attentionOutputs });
    x = g.op('Add', [x, linear(g, a, `${p}.attention.wo`)]);
    const f = rmsNorm(g, x, `${p}.ffn_norm`, c.norm_eps);
    const gate = linear(g, f, `${p}.feed_forward.w1`);
    const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    x = g.op('Add', [x, linear(g, g.op('Mul', [silu, linear(g, f, `${p}.feed_forward.w3`)]), `${p}.feed_forward.w2`)]);
  }
  const classifier = c.shared_classifier ? 'tok_embeddings' : 'output';
  lmHead(g, rmsNorm(g, x, 'norm', c.norm_eps), classifier, c.dim, c.vocab_size);
  declareOutputs(g, s, attentionOutputs);
  return g;
}

export function writeLlamaOnnx(config: LlamaConfig, weights: Weights, opts: WriteOptions = {}): Uint8Array {
  return buildLlamaGraph(config, weights, opts).serialize();
}
