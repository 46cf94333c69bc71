// Neural-network ops with hand-written gradients (fewer nodes than composing them from arithmetic),
// and RMSNorm, a composition.
import { Value } from './autodiff';
import { mean, mul, rsqrt, shift } from './ops';

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

/** LayerNorm over the last axis (Ba et al. 2016), with or without a bias. */
export function layerNorm(x: Value, w: Value, b: Value | null, eps: number): Value {
  const t = x.t;
  const C = x.shape[x.shape.length - 1];
  let y: string, mu: string, inv: string;
  if (t.dtype === 'float32') {
    const inputs = b ? [x.name, w.name, b.name] : [x.name, w.name];
    [y, mu, inv] = t.b.node('LayerNormalization', inputs, { axis: -1, epsilon: { float: eps } }, 3);
  } else {
    // onnxruntime has no float64 LayerNormalization kernel: the same formula from arithmetic.
    mu = t.op('ReduceMean', [x.name], { axes: [-1], keepdims: 1 });
    const xc = t.op('Sub', [x.name, mu]);
    const variance = t.op('ReduceMean', [t.op('Mul', [xc, xc])], { axes: [-1], keepdims: 1 });
    inv = t.op('Reciprocal', [t.op('Sqrt', [t.op('Add', [variance, t.scalar(eps)])])]);
    y = t.op('Mul', [t.op('Mul', [xc, inv]), w.name]);
    if (b) y = t.op('Add', [y, b.name]);
  }
  return new Value(t, y, x.shape, b ? [x, w, b] : [x, w], (g, needs) => {
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

/** GELU, exact: x * Phi(x), with Phi the standard normal CDF (nanoGPT, GPT-NeoX). */
export function geluExact(x: Value): Value {
  const t = x.t;
  const u = t.op('Mul', [x.name, t.scalar(Math.SQRT1_2)]);
  const erf = t.dtype === 'float32' ? t.op('Erf', [u]) : erfSeries(x, u);
  const phi = t.op('Mul', [t.op('Add', [erf, t.scalar(1)]), t.scalar(0.5)]);
  const y = t.op('Mul', [x.name, phi]);
  return new Value(t, y, x.shape, [x], (g) => {
    // d/dx = Phi(x) + x * exp(-x^2/2) / sqrt(2 pi)
    const gauss = t.op('Exp', [t.op('Mul', [t.op('Mul', [x.name, x.name]), t.scalar(-0.5)])]);
    const density = t.op('Mul', [gauss, t.scalar(1 / Math.sqrt(2 * Math.PI))]);
    return [t.op('Mul', [g, t.op('Add', [phi, t.op('Mul', [x.name, density])])])];
  });
}

/**
 * erf(u) in float64, where onnxruntime has no Erf kernel: 2/sqrt(pi) e^(-u^2) sum_n u (2u^2)^n / (2n+1)!!,
 * a series of terms of one sign (no cancellation), summed over a new last axis of 128 terms (|u| <= 6,
 * beyond which erf is +-1 in float64).
 */
function erfSeries(x: Value, u: string): string {
  const t = x.t, N = 128;
  const logDoubleFactorial = new Float64Array(N);
  for (let n = 1; n < N; n++) logDoubleFactorial[n] = logDoubleFactorial[n - 1] + Math.log(2 * n + 1);
  const clamped = t.op('Max', [t.op('Min', [u, t.scalar(6)]), t.scalar(-6)]);
  const u2 = t.op('Mul', [clamped, clamped]);
  // log(2u^2) on a new last axis; the tiny term keeps u = 0 finite (its n = 0 term is then exactly u).
  const logRatio = t.op('Unsqueeze', [t.op('Log', [t.op('Add', [t.op('Mul', [u2, t.scalar(2)]), t.scalar(1e-300)])]),
    t.b.constInt64([-1])]);
  const n = t.constant(Array.from({ length: N }, (_, i) => i), [N], 'erf_n');
  const terms = t.op('Exp', [t.op('Sub', [t.op('Mul', [logRatio, n]), t.constant(logDoubleFactorial, [N], 'erf_lfact')])]);
  const sum = t.op('ReduceSum', [terms, t.b.constInt64([-1])], { keepdims: 0 });
  const scale = t.op('Mul', [clamped, t.op('Exp', [t.op('Neg', [u2])])]);
  return t.op('Mul', [scale, t.op('Mul', [sum, t.scalar(2 / Math.sqrt(Math.PI))])]);
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

/** Additive causal mask [T, T]: query i sees keys 0..i. */
/** Query i sees keys j <= i, and with a sliding window only those with i - j < window (Mistral's band). */
export function causalMask(T: number, window: number | null = null): Float32Array {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) if (j > i || (window !== null && i - j >= window)) m[i * T + j] = -Infinity;
  }
  return m;
}
