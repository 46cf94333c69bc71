// Each fused attention op of onnxruntime (com.microsoft Attention, MultiHeadAttention, GroupQueryAttention,
// RotaryEmbedding) written out as the plain ops it stands for: MatMul, Softmax, MatMul, with the causal
// mask, the past/present cache, grouped heads and rotary made explicit. The Softmax is then an ordinary
// attention Softmax that surgery can expose. Each rewrite first checks the node: an attribute or input
// whose meaning it does not reproduce exactly is a reason to leave the node fused.
import type { onnx } from 'onnx-proto';
import type { GraphEmitter, GraphFacts } from './graphEmitter';

/** Either why a node stays fused, or how to write it out. */
export type Rewrite = string | ((e: GraphEmitter) => void);

const FAR = 2 ** 53 - 1;

function attr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}
const int = (node: onnx.INodeProto, name: string, fallback: number) => Number(attr(node, name)?.i ?? fallback);
const float = (node: onnx.INodeProto, name: string): number | undefined => {
  const a = attr(node, name);
  return a ? Number(a.f) : undefined;
};
const input = (node: onnx.INodeProto, i: number): string | undefined => node.input?.[i] || undefined;
const output = (node: onnx.INodeProto, i: number): string | undefined => node.output?.[i] || undefined;

/** The first of these inputs or attributes a node sets, named for the user. */
function unsupported(node: onnx.INodeProto, inputs: Record<number, string>, attrs: Record<string, number>): string | undefined {
  for (const [i, what] of Object.entries(inputs)) if (input(node, Number(i))) return `${node.opType} with ${what}`;
  for (const [name, neutral] of Object.entries(attrs)) {
    const a = attr(node, name);
    const value = a?.type === 1 ? Number(a.f) : a?.type === 2 ? Number(a.i) : neutral;
    if (value !== neutral) return `${node.opType} with ${name} ${value}`;
  }
  return undefined;
}

/** (B, S, n * H) -> (B, n, S, H). */
function heads(e: GraphEmitter, x: string, n: number): string {
  return e.op('Transpose', [e.op('Reshape', [x, e.ints([0, 0, n, -1])])], { perm: [0, 2, 1, 3] });
}

/** (B, K, T, H) -> (B, N, T, H): each key/value head serves N / K query heads, in order (Llama's repeat_kv). */
function repeatHeads(e: GraphEmitter, x: string, N: number, K: number): string {
  if (N === K) return x;
  const dims = [0, 1, 2, 3].map((i) => e.dim(x, i));
  const wide = e.op('Expand', [e.unsqueeze(x, [2]), e.op('Concat', [dims[0], dims[1], e.ints([N / K]), dims[2], dims[3]], { axis: 0 })]);
  return e.op('Reshape', [wide, e.op('Concat', [dims[0], e.ints([N]), dims[2], dims[3]], { axis: 0 })]);
}

interface Core {
  /** (B, N, S, H) */ q: string;
  /** (B, N, T, H), T = past + S */ k: string;
  /** (B, N, T, Hv) */ v: string;
  /** Multiplies the scores; absent (or 0, as some exporters write it): 1 / sqrt(head size). */
  scale?: number;
  /** Added to the scores, broadcast to (B, N, S, T). */ bias?: string;
  /** (B, T) of 1 (attend) and 0 (padding). */ keyMask?: string;
  causal: boolean;
  /** With causal: a query sees only the `window` most recent keys, itself included (sliding-window attention). */
  window?: number;
  /** Scores become softcap * tanh(scores / softcap) (Gemma 2). */
  softcap?: number;
  /** What masked scores become (onnxruntime's mask_filter_value). */ filter: number;
  /** Name of the result (B, S, N * Hv). */ output: string;
}

/** Scores, masks, Softmax, weighted sum: attention as its definition reads. */
function attend(e: GraphEmitter, c: Core): void {
  let scores = e.op('MatMul', [c.q, e.op('Transpose', [c.k], { perm: [0, 1, 3, 2] })]);
  scores = e.op('Mul', [scores, c.scale === undefined ? e.inverseSqrtLastDim(c.q, 4) : e.float(c.scale)]);
  if (c.softcap) scores = e.op('Mul', [e.op('Tanh', [e.op('Div', [scores, e.float(c.softcap)])]), e.float(c.softcap)]);
  if (c.bias) scores = e.op('Add', [scores, c.bias]);
  const filter = c.keyMask || c.causal ? e.float(c.filter) : '';
  if (c.keyMask) {
    const padded = e.op('Equal', [e.op('Cast', [c.keyMask], { to: 7 }), e.ints([0])]);
    scores = e.op('Where', [e.op('Reshape', [padded, e.ints([0, 1, 1, -1])]), filter, scores]);
  }
  if (c.causal) {
    // Query i sits at position T - S + i and sees the keys up to there.
    const T = e.dim(c.k, 2);
    const first = e.op('Sub', [T, e.dim(c.q, 2)]);
    const one = e.ints([1], true);
    const rows = e.op('Reshape', [e.op('Range', [e.scalar(first), e.scalar(T), one]), e.ints([-1, 1])]);
    const cols = e.op('Range', [e.ints([0], true), e.scalar(T), one]);
    scores = e.op('Where', [e.op('Greater', [cols, rows]), filter, scores]);
    if (c.window !== undefined) {
      // onnxruntime's local_window_size: key j is in query i's window when j > i - window.
      const start = e.op('Sub', [rows, e.ints([c.window - 1], true)]);
      scores = e.op('Where', [e.op('Less', [cols, start]), filter, scores]);
    }
  }
  const probs = e.op('Softmax', [scores], { axis: 3 }, e.fresh('attention_probs'));
  const y = e.op('Transpose', [e.op('MatMul', [probs, c.v])], { perm: [0, 2, 1, 3] });
  e.op('Reshape', [y, e.ints([0, 0, -1])], {}, c.output);
}

/** Rotates (B, n, S, H) by the cos/sin rows for its positions ((S, R/2) or (B, 1, S, R/2)); R = rotated dims. */
function rotate(e: GraphEmitter, x: string, cos: string, sin: string, R: number, interleaved: boolean): string {
  const rest = e.slice(x, R, FAR, 3);
  const turn = (a: string, b: string) => [
    e.op('Sub', [e.op('Mul', [a, cos]), e.op('Mul', [b, sin])]),
    e.op('Add', [e.op('Mul', [b, cos]), e.op('Mul', [a, sin])]),
  ];
  if (!interleaved) {
    const [a, b] = turn(e.slice(x, 0, R / 2, 3), e.slice(x, R / 2, R, 3));
    return e.op('Concat', [a, b, rest], { axis: 3 });
  }
  const [a, b] = turn(e.slice(x, 0, R, 3, 2), e.slice(x, 1, R, 3, 2));
  const pairs = e.op('Concat', [e.unsqueeze(a, [4]), e.unsqueeze(b, [4])], { axis: 4 });
  return e.op('Concat', [e.op('Reshape', [pairs, e.ints([0, 0, 0, -1])]), rest], { axis: 3 });
}

/** Rows of the cos/sin caches for positions (S) or (B, S), shaped to broadcast over (B, n, S, R/2). */
function cacheRows(e: GraphEmitter, cache: string, positions: string, positionsRank: number): string {
  const rows = e.op('Gather', [cache, positions], { axis: 0 });
  return positionsRank === 2 ? e.unsqueeze(rows, [1]) : rows;
}

/** How many dims a cos/sin cache rotates (2 x its width), when the cache is a constant. */
function rotatedDims(facts: GraphFacts, cos: string | undefined): number | undefined {
  const t = cos ? facts.initializers.get(cos) : undefined;
  return t?.dims?.length === 2 ? 2 * Number(t.dims[1]) : undefined;
}

/** com.microsoft Attention: packed QKV weights (and bias), past and present stacked as (2, B, N, S, H). */
export function attentionOp(node: onnx.INodeProto, facts: GraphFacts): Rewrite {
  const why = unsupported(node, { 6: 'past_sequence_length' }, { do_rotary: 0, past_present_share_buffer: 0 });
  if (why) return why;
  const N = int(node, 'num_heads', 0);
  const x = input(node, 0)!, weights = input(node, 1)!, bias = input(node, 2), mask = input(node, 3);
  const past = input(node, 4), attentionBias = input(node, 5);
  const sizes = attr(node, 'qkv_hidden_sizes')?.ints?.map(Number)
    ?? (() => { const w = facts.initializers.get(weights); return w?.dims?.length === 2 ? Array(3).fill(Number(w.dims[1]) / 3) : undefined; })();
  if (!sizes || sizes[0] !== sizes[1]) return 'Attention whose Q/K/V widths are not known';
  if (mask && facts.rank(mask) !== 2) return 'Attention with a mask_index that is not a (batch, total length) mask';
  return (e) => {
    let qkv = e.op('MatMul', [x, weights]);
    if (bias) qkv = e.op('Add', [qkv, bias]);
    const q = heads(e, e.slice(qkv, 0, sizes[0], 2), N);
    let k = heads(e, e.slice(qkv, sizes[0], sizes[0] + sizes[1], 2), N);
    let v = heads(e, e.slice(qkv, sizes[0] + sizes[1], sizes[0] + sizes[1] + sizes[2], 2), N);
    if (past) {
      k = e.op('Concat', [e.op('Gather', [past, e.ints([0], true)], { axis: 0 }), k], { axis: 2 });
      v = e.op('Concat', [e.op('Gather', [past, e.ints([1], true)], { axis: 0 }), v], { axis: 2 });
    }
    const present = output(node, 1);
    if (present) e.op('Concat', [e.unsqueeze(k, [0]), e.unsqueeze(v, [0])], { axis: 0 }, present);
    attend(e, {
      q, k, v, scale: float(node, 'scale') || undefined, bias: attentionBias, keyMask: mask,
      causal: int(node, 'unidirectional', 0) === 1, filter: float(node, 'mask_filter_value') ?? -10000, output: output(node, 0)!,
    });
  };
}

/** com.microsoft MultiHeadAttention with projected Q, K, V of shape (B, S, N * H) and separate caches. */
export function multiHeadAttentionOp(node: onnx.INodeProto, facts: GraphFacts): Rewrite {
  const why = unsupported(node, { 8: 'past_sequence_length', 9: 'cache_indirection' }, {});
  if (why) return why;
  if (output(node, 3)) return 'MultiHeadAttention with its qk output';
  const N = int(node, 'num_heads', 0);
  const [q, k, v, bias, mask, attentionBias, pastKey, pastValue] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => input(node, i));
  if (!k || !v || [q, k, v].some((t) => facts.rank(t!) !== 3)) return 'MultiHeadAttention whose query, key and value are not (batch, length, hidden)';
  if (mask && facts.rank(mask) !== 2) return 'MultiHeadAttention with a key_padding_mask that is not a (batch, length) mask';
  return (e) => {
    const parts = [q!, k, v];
    if (bias) e.split3(bias).forEach((b, i) => { parts[i] = e.op('Add', [parts[i], b]); });
    let [qh, kh, vh] = parts.map((t) => heads(e, t, N));
    if (pastKey) kh = e.op('Concat', [pastKey, kh], { axis: 2 });
    if (pastValue) vh = e.op('Concat', [pastValue, vh], { axis: 2 });
    if (output(node, 1)) e.op('Identity', [kh], {}, output(node, 1));
    if (output(node, 2)) e.op('Identity', [vh], {}, output(node, 2));
    attend(e, {
      q: qh, k: kh, v: vh, scale: float(node, 'scale') || undefined, bias: attentionBias, keyMask: mask,
      causal: int(node, 'unidirectional', 0) === 1, filter: float(node, 'mask_filter_value') ?? -10000, output: output(node, 0)!,
    });
  };
}

/** com.microsoft GroupQueryAttention: causal, K key/value heads for N query heads, optional rotary inside. */
export function groupQueryAttentionOp(node: onnx.INodeProto, facts: GraphFacts): Rewrite {
  const why = unsupported(node,
    { 11: 'head_sink', 12: 'k_scale', 13: 'v_scale', 14: 'q_norm_weight', 15: 'k_norm_weight' },
    { smooth_softmax: 0, qk_output: 0, sliding_window_cache: 0, kv_cache_bit_width: 0 });
  if (why) return why;
  if (output(node, 3)) return 'GroupQueryAttention with its output_qk output';
  const N = int(node, 'num_heads', 0), K = int(node, 'kv_num_heads', 0);
  const [query, key, value, pastKey, pastValue] = [0, 1, 2, 3, 4].map((i) => input(node, i));
  const [cos, sin, positionIds, attentionBias] = [7, 8, 9, 10].map((i) => input(node, i));
  const rotary = int(node, 'do_rotary', 0) === 1;
  const R = rotatedDims(facts, cos);
  if (rotary && (!cos || !sin || !R)) return 'GroupQueryAttention whose rotary caches are not constants';
  if (rotary && positionIds && facts.rank(positionIds) !== 2) return 'GroupQueryAttention with position_ids that are not (batch, length)';
  if (!N || !K || N % K) return 'GroupQueryAttention with unusual head counts';
  return (e) => {
    let q: string, k: string, v: string;
    if (key && value) {
      [q, k, v] = [heads(e, query!, N), heads(e, key, K), heads(e, value, K)];
    } else {
      // Packed QKV: (B, S, (N + 2K) * H).
      const all = e.op('Reshape', [query!, e.ints([0, 0, N + 2 * K, -1])]);
      const part = (from: number, to: number) => e.op('Transpose', [e.slice(all, from, to, 2)], { perm: [0, 2, 1, 3] });
      [q, k, v] = [part(0, N), part(N, N + K), part(N + K, N + 2 * K)];
    }
    if (rotary) {
      let positions: string, rank = 1;
      if (positionIds) {
        positions = positionIds;
        rank = 2;
      } else {
        // Positions continue after the past: P .. P + S - 1.
        const P = pastKey ? e.dim(pastKey, 2) : e.ints([0]);
        positions = e.op('Range', [e.scalar(P), e.scalar(e.op('Add', [P, e.dim(q, 2)])), e.ints([1], true)]);
      }
      const c = cacheRows(e, cos!, positions, rank), s = cacheRows(e, sin!, positions, rank);
      const interleaved = int(node, 'rotary_interleaved', 0) === 1;
      q = rotate(e, q, c, s, R!, interleaved);
      k = rotate(e, k, c, s, R!, interleaved);
    }
    if (pastKey) k = e.op('Concat', [pastKey, k], { axis: 2 });
    if (pastValue) v = e.op('Concat', [pastValue, v], { axis: 2 });
    if (output(node, 1)) e.op('Identity', [k], {}, output(node, 1));
    if (output(node, 2)) e.op('Identity', [v], {}, output(node, 2));
    attend(e, {
      q, k: repeatHeads(e, k, N, K), v: repeatHeads(e, v, N, K), scale: float(node, 'scale') || undefined, bias: attentionBias,
      causal: int(node, 'causal', 1) === 1, filter: -10000, output: output(node, 0)!,
      window: int(node, 'local_window_size', -1) >= 0 ? int(node, 'local_window_size', -1) : undefined,
      softcap: float(node, 'softcap') || undefined,
    });
  };
}

/** com.microsoft RotaryEmbedding on (B, S, n * H) or (B, n, S, H), positions (B, S). */
export function rotaryEmbeddingOp(node: onnx.INodeProto, facts: GraphFacts): Rewrite {
  const why = unsupported(node, {}, { is_packed_batching: 0, scale: 1 });
  if (why) return why;
  const [x, positions, cos, sin] = [0, 1, 2, 3].map((i) => input(node, i));
  const R = int(node, 'rotary_embedding_dim', 0) || rotatedDims(facts, cos);
  const rank = facts.rank(x!);
  if (!R || !cos || !sin) return 'RotaryEmbedding whose caches are not constants';
  if (rank !== 3 && rank !== 4) return 'RotaryEmbedding on an input of unknown rank';
  if (facts.rank(positions!) !== 2) return 'RotaryEmbedding with position_ids that are not (batch, length)';
  const n = int(node, 'num_heads', 0);
  return (e) => {
    // Work in (B, n, S, H); a 3-D input is split into heads of R dims unless num_heads says otherwise.
    const h = rank === 4 ? x! : e.op('Transpose', [e.op('Reshape', [x!, e.ints([0, 0, n || -1, n ? -1 : R])])], { perm: [0, 2, 1, 3] });
    const c = cacheRows(e, cos, positions!, 2), s = cacheRows(e, sin, positions!, 2);
    const y = rotate(e, h, c, s, R, int(node, 'interleaved', 0) === 1);
    if (rank === 4) e.op('Identity', [y], {}, output(node, 0));
    else e.op('Reshape', [e.op('Transpose', [y], { perm: [0, 2, 1, 3] }), e.ints([0, 0, -1])], {}, output(node, 0));
  };
}
