// The decoder as the ONNX graph transformers.js runs: inputs `input_ids`, `attention_mask` and the KV
// cache `past_key_values.{i}.key/value`; outputs `logits`, `present.{i}.key/value` and, when asked,
// each layer's attention probabilities `attentions.{i}` (one matrix per query head) and the residual
// stream after each block `hidden_states.{i}`.
//
// Dimension names matter: transformers.js builds the empty first-step cache from the declared input
// shapes, turning numbers into sizes and unknown names into 0, and knows only "batch_size".
import { BOOL, FLOAT, GraphBuilder, INT64 } from '../onnx/builder';
import type { DecoderConfig, Weights } from './config';
import { decoder, Ops, weightShapes } from './decoder';

export const BATCH = 'batch_size';
export const SEQ = 'sequence_length';
export const PAST = 'past_sequence_length';
export const TOTAL = 'total_sequence_length';

/** float32's lowest value: exp(lowest - max) is exactly 0, and a row with nothing to attend to stays finite. */
const MASKED = -3.4028234663852886e38;

export interface WriteOptions {
  /** Also output each layer's attention probabilities as `attentions.{i}`. */
  attentionOutputs?: boolean;
  /** Also output the residual stream after each block as `hidden_states.{i}` [B, T, C] (the logit lens). */
  hiddenStates?: boolean;
  /** Also output the scoring head (src/core/onnx/scoringHead.ts) that analyses read. */
  scoringHead?: boolean;
}

/** The sizes the graph's inputs and outputs need (a decoder's or an encoder's config has them). */
export type GraphSizes = Pick<DecoderConfig, 'n_layer' | 'n_kv_head' | 'head_dim' | 'n_embd' | 'vocab_size'> &
  Partial<Pick<DecoderConfig, 'sliding_window'>>;

export class GraphOps implements Ops<string> {
  private readonly ids: string;
  /** Absolute positions of the new tokens: past_len + arange(seq_len), int64 [T]. */
  private readonly positions: string;
  /**
   * bool [B, 1, T, S]: key j is visible from query i when j <= past_len + i and attention_mask[j] = 1 and,
   * with a sliding window, past_len + i - j < window. The cache keeps every key: the mask alone bounds the band.
   */
  private readonly mask: string;
  /** bool [B, 1, 1, S]: key j is visible when attention_mask[j] = 1, whatever the query (an encoder's mask). */
  private readonly paddingMask: string;
  private readonly segmentIds?: string;

  /**
   * `bidirectional`: an encoder's graph. No KV cache (every pass sees the whole text), BERT's segment ids
   * `token_type_ids` as an input, and attention limited by padding only.
   */
  constructor(readonly g: GraphBuilder, private readonly c: GraphSizes, private readonly attentionOutputs: boolean,
    private readonly hiddenStates = false, private readonly bidirectional = false) {
    this.ids = g.input('input_ids', INT64, [BATCH, SEQ]);
    const attentionMask = g.input('attention_mask', INT64, [BATCH, bidirectional ? SEQ : TOTAL]);
    this.paddingMask = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: BOOL }), g.constInt64([1, 2])]);
    if (bidirectional) {
      this.segmentIds = g.input('token_type_ids', INT64, [BATCH, SEQ]);
      const seqLen = g.op('Squeeze', [g.op('Shape', [this.ids], { start: 1, end: 2 }), g.constInt64([0])]);
      this.positions = g.op('Range', [g.constInt64([0], []), seqLen, g.constInt64([1], [])]);
      this.mask = this.paddingMask;
      return;
    }
    for (let i = 0; i < c.n_layer; i++) {
      for (const kv of ['key', 'value']) g.input(`past_key_values.${i}.${kv}`, FLOAT, [BATCH, c.n_kv_head, PAST, c.head_dim]);
    }
    const scalar = g.constInt64([0]);
    const pastLen = g.op('Squeeze', [g.op('Shape', ['past_key_values.0.key'], { start: 2, end: 3 }), scalar]);
    const seqLen = g.op('Squeeze', [g.op('Shape', [this.ids], { start: 1, end: 2 }), scalar]);
    const totalLen = g.op('Add', [pastLen, seqLen]);
    const one = g.constInt64([1], []);
    this.positions = g.op('Range', [pastLen, totalLen, one]);
    const keyPositions = g.op('Range', [g.constInt64([0], []), totalLen, one]);
    const keys = g.op('Unsqueeze', [keyPositions, g.constInt64([0])]); // [1, S]
    const queries = g.op('Unsqueeze', [this.positions, g.constInt64([1])]); // [T, 1]
    let visible = g.op('LessOrEqual', [keys, queries]);
    if (c.sliding_window != null) {
      const oldest = g.op('Sub', [queries, g.constInt64([c.sliding_window], [])]);
      visible = g.op('And', [visible, g.op('Greater', [keys, oldest])]);
    }
    this.mask = g.op('And', [visible, this.paddingMask]);
  }

  weight(name: string): string { return name; }
  linear(x: string, names: string[], bias: boolean): string[] {
    // One MatMul per weight: concatenating weights in the graph would copy them when the session loads.
    return names.map((n) => {
      const y = this.g.op('MatMul', [x, `${n}.weight`]);
      return bias ? this.g.op('Add', [y, `${n}.bias`]) : y;
    });
  }
  embed(table: string): string { return this.g.op('Gather', [table, this.ids]); }
  atPositions(table: string): string { return this.g.op('Gather', [table, this.positions]); }
  segments(table: string): string {
    if (!this.segmentIds) throw new Error('segment ids are an encoder graph\'s input');
    return this.g.op('Gather', [table, this.segmentIds]);
  }

  rotary(invFreq: Float32Array): { cos: string; sin: string } {
    // In float32 from the positions, as Hugging Face and llama2.c's run.c compute the angles.
    const g = this.g;
    const pos = g.op('Unsqueeze', [g.op('Cast', [this.positions], { to: FLOAT }), g.constInt64([1])]);
    const angles = g.op('Mul', [pos, g.init(g.fresh('rope_inv_freq'), invFreq, [invFreq.length])]);
    return { cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
  }

  add(a: string, b: string): string { return this.g.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.g.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.g.op('Mul', [a, b]); }
  scale(x: string, c: number): string { return this.g.op('Mul', [x, this.g.constFloat([c])]); }
  matmul(a: string, b: string): string { return this.g.op('MatMul', [a, b]); }
  reshape(x: string, shape: number[]): string { return this.g.op('Reshape', [x, this.g.constInt64(shape)]); }
  transpose(x: string, perm: number[]): string { return this.g.op('Transpose', [x], { perm }); }
  expand(x: string, shape: number[]): string { return this.g.op('Expand', [x, this.g.constInt64(shape)]); }
  split(x: string, axis: number, sizes: number[]): string[] {
    return this.g.node('Split', [x, this.g.constInt64(sizes)], { axis }, sizes.length);
  }
  concat(xs: string[], axis: number): string { return this.g.op('Concat', xs, { axis }); }

  layerNorm(x: string, w: string, b: string | null, eps: number): string {
    return this.g.op('LayerNormalization', b ? [x, w, b] : [x, w], { axis: -1, epsilon: { float: eps } });
  }

  /** x / sqrt(mean(x^2) + eps) * w */
  rmsNorm(x: string, w: string, eps: number): string {
    const g = this.g;
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, g.constFloat([eps])])])]), w]);
  }

  gelu(x: string, flavour: 'tanh' | 'exact'): string {
    const g = this.g;
    const half = g.op('Mul', [x, g.constFloat([0.5])]);
    if (flavour === 'exact') {
      // 0.5 x (1 + erf(x / sqrt 2))
      return g.op('Mul', [half, g.op('Add', [g.op('Erf', [g.op('Mul', [x, g.constFloat([Math.SQRT1_2])])]), g.constFloat([1])])]);
    }
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written out so any runtime computes the same thing.
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Add', [x, g.op('Mul', [cube, g.constFloat([0.044715])])]);
    const t = g.op('Tanh', [g.op('Mul', [inner, g.constFloat([Math.sqrt(2 / Math.PI)])])]);
    return g.op('Mul', [half, g.op('Add', [t, g.constFloat([1])])]);
  }

  silu(x: string): string { return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]); }
  softmax(x: string): string { return this.g.op('Softmax', [x], { axis: -1 }); }

  cache(layer: number, k: string, v: string): [string, string] {
    if (this.bidirectional) return [k, v];
    const g = this.g;
    return [
      g.op('Concat', [`past_key_values.${layer}.key`, k], { axis: 2 }, `present.${layer}.key`),
      g.op('Concat', [`past_key_values.${layer}.value`, v], { axis: 2 }, `present.${layer}.value`),
    ];
  }

  /** The window is in the mask already (built once for every layer). */
  causal(scores: string, _window: number | null): string { return this.g.op('Where', [this.mask, scores, this.g.constFloat([MASKED])]); }
  padding(scores: string): string { return this.g.op('Where', [this.paddingMask, scores, this.g.constFloat([MASKED])]); }

  expose(layer: number, probs: string): void {
    // The Softmax feeds the weighted-values MatMul directly either way: graph surgery finds it by that pattern.
    if (this.attentionOutputs) this.g.op('Identity', [probs], {}, `attentions.${layer}`);
  }

  exposeHidden(layer: number, x: string): void {
    if (this.hiddenStates) this.g.op('Identity', [x], {}, `hidden_states.${layer}`);
  }

  logits(x: string, table: string, bias?: string): string {
    // Gemm with transB reads the [V, C] table in place: no transposed copy of the embedding.
    const g = this.g;
    const flat = g.op('Reshape', [x, g.constInt64([-1, this.c.n_embd])]);
    const logits = g.op('Gemm', bias ? [flat, table, bias] : [flat, table], { transB: 1 });
    const shape = g.op('Concat', [g.op('Shape', [x], { start: 0, end: 2 }), g.constInt64([this.c.vocab_size])], { axis: 0 });
    return g.op('Reshape', [logits, shape], {}, 'logits');
  }
}

/** Adds every weight as an initializer named as in config.ts (encoder.ts), checking names and shapes; no copies. */
export function addWeights(g: GraphBuilder, arch: string, shapes: Map<string, number[]>, weights: Weights): void {
  const unknown = [...weights.keys()].filter((n) => !shapes.has(n));
  if (unknown.length) throw new Error(`weights this ${arch} config has no place for: ${unknown.slice(0, 5).join(', ')}`);
  for (const [name, shape] of shapes) {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    if (t.shape.join() !== shape.join()) throw new Error(`weight ${name}: shape [${t.shape}], expected [${shape}]`);
    g.init(name, t.data, shape);
  }
}

export function buildDecoderGraph(c: DecoderConfig, weights: Weights, opts: WriteOptions = {}): GraphBuilder {
  const g = new GraphBuilder(c.arch);
  const attentionOutputs = opts.attentionOutputs ?? false;
  const ops = new GraphOps(g, c, attentionOutputs, opts.hiddenStates);
  addWeights(g, c.arch, weightShapes(c), weights);
  decoder(c, ops);
  g.output('logits', FLOAT, [BATCH, SEQ, c.vocab_size]);
  for (let i = 0; i < c.n_layer; i++) {
    for (const kv of ['key', 'value']) g.output(`present.${i}.${kv}`, FLOAT, [BATCH, c.n_kv_head, TOTAL, c.head_dim]);
  }
  if (attentionOutputs) {
    for (let i = 0; i < c.n_layer; i++) g.output(`attentions.${i}`, FLOAT, [BATCH, c.n_head, SEQ, TOTAL]);
  }
  if (opts.hiddenStates) {
    for (let i = 0; i < c.n_layer; i++) g.output(`hidden_states.${i}`, FLOAT, [BATCH, SEQ, c.n_embd]);
  }
  return g;
}
