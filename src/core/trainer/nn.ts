// Neural-network ops with hand-written gradients (fewer nodes than composing them from arithmetic),
// and the few that are compositions: RMSNorm, causal self-attention.
import { Value } from './autodiff';
import { add, matmul, mean, mul, rsqrt, shift, scale } from './ops';
import { reshape, transpose } from './shape';

/** Embedding lookup: table[V,C] at integer ids -> [...ids, C]. Repeated ids accumulate their gradients. */
export function gather(table: Value, ids: Value): Value {
  const t = table.t;
  const [V, C] = table.shape;
  const y = t.op('Gather', [table.name, ids.name], { axis: 0 });
  return new Value(t, y, [...ids.shape, C], [table, ids], (g) => [
    t.op('ScatterND', [t.zeros([V, C]), t.reshape(ids.name, [-1, 1]), t.reshape(g, [-1, C])], { reduction: 'add' }),
    null,
  ]);
}

/** LayerNorm over the last axis (Ba et al. 2016). */
export function layerNorm(x: Value, w: Value, b: Value, eps: number): Value {
  const t = x.t;
  const C = x.shape[x.shape.length - 1];
  let y: string, mu: string, inv: string;
  if (t.dtype === 'float32') {
    [y, mu, inv] = t.b.node('LayerNormalization', [x.name, w.name, b.name], { axis: -1, epsilon: { float: eps } }, 3);
  } else {
    // onnxruntime has no float64 LayerNormalization kernel: the same formula from arithmetic.
    mu = t.op('ReduceMean', [x.name], { axes: [-1], keepdims: 1 });
    const xc = t.op('Sub', [x.name, mu]);
    const variance = t.op('ReduceMean', [t.op('Mul', [xc, xc])], { axes: [-1], keepdims: 1 });
    inv = t.op('Reciprocal', [t.op('Sqrt', [t.op('Add', [variance, t.scalar(eps)])])]);
    y = t.op('Add', [t.op('Mul', [t.op('Mul', [xc, inv]), w.name]), b.name]);
  }
  return new Value(t, y, x.shape, [x, w, b], (g, needs) => {
    const xhat = t.op('Mul', [t.op('Sub', [x.name, mu]), inv]);
    const rowMean = (v: string) => t.op('ReduceMean', [v], { axes: [-1], keepdims: 1 });
    let gx: string | null = null;
    if (needs[0]) {
      const gxhat = t.op('Mul', [g, w.name]);
      const inner = t.op('Sub', [t.op('Sub', [gxhat, rowMean(gxhat)]), t.op('Mul', [xhat, rowMean(t.op('Mul', [gxhat, xhat]))])]);
      gx = t.op('Mul', [inner, inv]);
    }
    return [gx, needs[1] ? t.sumTo(t.op('Mul', [g, xhat]), x.shape, [C]) : null, needs[2] ? t.sumTo(g, x.shape, [C]) : null];
  });
}

/** RMSNorm over the last axis (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * w. */
export function rmsNorm(x: Value, w: Value, eps: number): Value {
  return mul(mul(x, rsqrt(shift(mean(mul(x, x), [-1]), eps))), w);
}

/** GELU, tanh approximation (as GPT-2 uses), written as x * sigmoid(2u): 0.5(1 + tanh u) = sigmoid(2u). */
export function gelu(x: Value): Value {
  const t = x.t;
  const k = Math.sqrt(2 / Math.PI), c = 0.044715;
  const x2 = t.op('Mul', [x.name, x.name]);
  const twoU = t.op('Mul', [x.name, t.op('Add', [t.op('Mul', [x2, t.scalar(2 * k * c)]), t.scalar(2 * k)])]);
  const s = t.op('Sigmoid', [twoU]);
  const y = t.op('Mul', [x.name, s]);
  return new Value(t, y, x.shape, [x], (g) => {
    // d/dx = s + x s (1 - s) d(2u)/dx, with d(2u)/dx = 2k + 6kc x^2 and x s = y.
    const dTwoU = t.op('Add', [t.op('Mul', [x2, t.scalar(6 * k * c)]), t.scalar(2 * k)]);
    const d = t.op('Add', [s, t.op('Mul', [t.op('Mul', [y, t.op('Sub', [t.scalar(1), s])]), dTwoU])]);
    return [t.op('Mul', [g, d])];
  });
}

/** SiLU / swish: x * sigmoid(x). */
export function silu(x: Value): Value {
  const t = x.t;
  const s = t.op('Sigmoid', [x.name]);
  const y = t.op('Mul', [x.name, s]);
  return new Value(t, y, x.shape, [x], (g) => {
    const d = t.op('Mul', [s, t.op('Add', [t.scalar(1), t.op('Mul', [x.name, t.op('Sub', [t.scalar(1), s])])])]);
    return [t.op('Mul', [g, d])];
  });
}

/** Softmax over the last axis. */
export function softmax(x: Value): Value {
  const t = x.t;
  const y = t.op('Softmax', [x.name], { axis: -1 });
  return new Value(t, y, x.shape, [x], (g) => {
    const gy = t.op('Mul', [g, y]);
    return [t.op('Sub', [gy, t.op('Mul', [y, t.op('ReduceSum', [gy, t.b.constInt64([-1])], { keepdims: 1 })])])];
  });
}

/** Mean softmax cross-entropy of logits [N,V] against integer targets [N]: a scalar. */
export function crossEntropy(logits: Value, targets: Value): Value {
  const t = logits.t;
  const [N, V] = logits.shape;
  const lp = t.op('LogSoftmax', [logits.name], { axis: 1 });
  const tgt = t.reshape(targets.name, [N, 1]);
  const picked = t.op('GatherElements', [lp, tgt], { axis: 1 });
  const y = t.op('Neg', [t.op('ReduceMean', [picked], { axes: [0, 1], keepdims: 0 })]);
  return new Value(t, y, [], [logits, targets], (g) => {
    const vocab = t.b.init(t.b.fresh('vocab_ids'), BigInt64Array.from({ length: V }, (_, i) => BigInt(i)), [1, V]);
    const onehot = t.op('Cast', [t.op('Equal', [tgt, vocab])], { to: t.elem });
    const d = t.op('Sub', [t.op('Exp', [lp]), onehot]);
    return [t.op('Mul', [d, t.op('Mul', [g, t.scalar(1 / N)])]), null];
  });
}

/** Additive causal mask for `groups` query heads stacked per key/value head: row r*T+i sees keys 0..i. */
export function causalMask(T: number, groups = 1): Float32Array {
  const m = new Float32Array(groups * T * T);
  for (let r = 0; r < groups; r++) {
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[(r * T + i) * T + j] = -Infinity;
  }
  return m;
}

/**
 * Causal scaled dot-product attention. q [B,H,T,hd], k and v [B,Hkv,T,hd] with H a multiple of Hkv
 * (grouped-query attention: query head h reads key/value head floor(h / (H/Hkv)), as llama2.c does).
 * Returns [B*T, H*hd]. `onProbs` sees the attention probabilities [B,Hkv,rep*T,T].
 */
export function attention(q: Value, k: Value, v: Value, onProbs?: (p: Value) => void): Value {
  const [B, H, T, hd] = q.shape;
  const Hkv = k.shape[1], rep = H / Hkv;
  const qg = reshape(scale(q, 1 / Math.sqrt(hd)), [B, Hkv, rep * T, hd]);
  const scores = matmul(qg, transpose(k, [0, 1, 3, 2]));
  const probs = softmax(add(scores, q.t.constValue(causalMask(T, rep), [rep * T, T], 'causal_mask')));
  onProbs?.(probs);
  const y = reshape(matmul(probs, v), [B, H, T, hd]);
  return reshape(transpose(y, [0, 2, 1, 3]), [B * T, H * hd]);
}
