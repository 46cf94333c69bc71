// Pieces both decoder graphs share: the inputs transformers.js feeds, positions, the causal+padding
// mask, attention with a KV cache, linears, the tied LM head.
//
// Dimension names matter: transformers.js builds the empty first-step cache from the declared input
// shapes, turning numbers into sizes and unknown names into 0, and knows only "batch_size".
import { BOOL, FLOAT, GraphBuilder, INT64 } from '../onnx/builder';
import type { Tensor, Weights } from './config';

export const BATCH = 'batch_size';
export const SEQ = 'sequence_length';
export const PAST = 'past_sequence_length';
export const TOTAL = 'total_sequence_length';

/** float32's lowest value: exp(lowest - max) is exactly 0, and a row with nothing to attend to stays finite. */
const MASKED = -3.4028234663852886e38;

export interface Shape {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

export interface Inputs {
  inputIds: string;
  /** Absolute positions of the new tokens: past_len + arange(seq_len), int64 [T]. */
  positions: string;
  /** bool [B, 1, T, S]: key j is visible from query i when j <= past_len + i and attention_mask[j] = 1. */
  mask: string;
}

export function declareInputs(g: GraphBuilder, s: Shape): Inputs {
  const inputIds = g.input('input_ids', INT64, [BATCH, SEQ]);
  const attentionMask = g.input('attention_mask', INT64, [BATCH, TOTAL]);
  for (let i = 0; i < s.layers; i++) {
    g.input(`past_key_values.${i}.key`, FLOAT, [BATCH, s.kvHeads, PAST, s.headDim]);
    g.input(`past_key_values.${i}.value`, FLOAT, [BATCH, s.kvHeads, PAST, s.headDim]);
  }
  const scalar = g.constInt64([0]);
  const pastLen = g.op('Squeeze', [g.op('Shape', ['past_key_values.0.key'], { start: 2, end: 3 }), scalar]);
  const seqLen = g.op('Squeeze', [g.op('Shape', [inputIds], { start: 1, end: 2 }), scalar]);
  const totalLen = g.op('Add', [pastLen, seqLen]);
  const one = g.constInt64([1], []);
  const positions = g.op('Range', [pastLen, totalLen, one]);
  const keyPositions = g.op('Range', [g.constInt64([0], []), totalLen, one]);

  const causal = g.op('LessOrEqual', [
    g.op('Unsqueeze', [keyPositions, g.constInt64([0])]),   // [1, S]
    g.op('Unsqueeze', [positions, g.constInt64([1])]),      // [T, 1]
  ]);
  const padding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: BOOL }), g.constInt64([1, 2])]);
  const mask = g.op('And', [causal, padding]);
  return { inputIds, positions, mask };
}

/** Adds every weight as an initializer named as in config.ts, checking shapes; no copies. */
export function addWeights(g: GraphBuilder, weights: Weights, shapes: Map<string, number[]>): void {
  for (const [name, shape] of shapes) {
    const t: Tensor | undefined = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    if (t.shape.join() !== shape.join()) throw new Error(`weight ${name}: shape [${t.shape}], expected [${shape}]`);
    g.init(name, t.data, shape);
  }
}

/** x @ W (+ b) with W stored [in, out]. */
export function linear(g: GraphBuilder, x: string, w: string, b?: string): string {
  const y = g.op('MatMul', [x, w]);
  return b ? g.op('Add', [y, b]) : y;
}

/** [B, T, n*hd] -> [B, T, n, hd] */
export function splitHeads(g: GraphBuilder, x: string, n: number, headDim: number): string {
  return g.op('Reshape', [x, g.constInt64([0, 0, n, headDim])]);
}

export interface AttentionArgs {
  layer: number;
  /** [B, T, heads, hd], [B, T, kvHeads, hd], [B, T, kvHeads, hd] */
  q: string;
  k: string;
  v: string;
  mask: string;
  attentionOutputs: boolean;
}

/** Scaled dot-product attention over past + new keys; returns [B, T, heads*hd]. */
export function attention(g: GraphBuilder, s: Shape, a: AttentionArgs): string {
  const toHeads = [0, 2, 1, 3];
  const q = g.op('Transpose', [a.q], { perm: toHeads });
  const k = g.op('Concat', [`past_key_values.${a.layer}.key`, g.op('Transpose', [a.k], { perm: toHeads })],
    { axis: 2 }, `present.${a.layer}.key`);
  const v = g.op('Concat', [`past_key_values.${a.layer}.value`, g.op('Transpose', [a.v], { perm: toHeads })],
    { axis: 2 }, `present.${a.layer}.value`);
  const kh = repeatKv(g, s, k);
  const vh = repeatKv(g, s, v);

  const scores = g.op('Mul', [
    g.op('MatMul', [q, g.op('Transpose', [kh], { perm: [0, 1, 3, 2] })]),
    g.constFloat([1 / Math.sqrt(s.headDim)]),
  ]);
  const masked = g.op('Where', [a.mask, scores, g.constFloat([MASKED])]);
  // The Softmax feeds the weighted-values MatMul directly: attention can be found by that pattern.
  const probs = g.op('Softmax', [masked], { axis: -1 }, a.attentionOutputs ? `attentions.${a.layer}` : undefined);
  const ctx = g.op('MatMul', [probs, vh]);
  return g.op('Reshape', [g.op('Transpose', [ctx], { perm: toHeads }), g.constInt64([0, 0, s.heads * s.headDim])]);
}

/** Grouped-query attention: query head h reads kv head floor(h / (heads / kvHeads)). */
function repeatKv(g: GraphBuilder, s: Shape, x: string): string {
  const group = s.heads / s.kvHeads;
  if (group === 1) return x;
  const expanded = g.op('Expand', [g.op('Unsqueeze', [x, g.constInt64([2])]), g.constInt64([1, 1, group, 1, 1])]);
  return g.op('Reshape', [expanded, g.constInt64([0, s.heads, -1, s.headDim])]);
}

/** Logits from the final hidden state with an embedding-shaped [V, C] classifier (Gemm transB, no copy). */
export function lmHead(g: GraphBuilder, x: string, classifier: string, dim: number, vocab: number): string {
  const flat = g.op('Reshape', [x, g.constInt64([-1, dim])]);
  const logits = g.op('Gemm', [flat, classifier], { transB: 1 });
  const shape = g.op('Concat', [g.op('Shape', [x], { start: 0, end: 2 }), g.constInt64([vocab])], { axis: 0 });
  return g.op('Reshape', [logits, shape], {}, 'logits');
}

export function declareOutputs(g: GraphBuilder, s: Shape, attentionOutputs: boolean): void {
  g.output('logits', FLOAT, [BATCH, SEQ, s.vocab]);
  for (let i = 0; i < s.layers; i++) {
    g.output(`present.${i}.key`, FLOAT, [BATCH, s.kvHeads, TOTAL, s.headDim]);
    g.output(`present.${i}.value`, FLOAT, [BATCH, s.kvHeads, TOTAL, s.headDim]);
  }
  if (!attentionOutputs) return;
  for (let i = 0; i < s.layers; i++) g.output(`attentions.${i}`, FLOAT, [BATCH, s.heads, SEQ, TOTAL]);
}
