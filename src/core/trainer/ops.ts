// Elementwise arithmetic with broadcasting, reductions and matrix products, each with its gradient.
import { Value, broadcastShape } from './autodiff';

function binary(type: string, a: Value, b: Value, grad: (g: string, y: string) => [string | null, string | null]): Value {
  const t = a.t;
  const shape = broadcastShape(a.shape, b.shape);
  const y = t.op(type, [a.name, b.name]);
  return new Value(t, y, shape, [a, b], (g, needs) => {
    const [ga, gb] = grad(g, y);
    return [needs[0] && ga ? t.sumTo(ga, shape, a.shape) : null, needs[1] && gb ? t.sumTo(gb, shape, b.shape) : null];
  });
}

export function add(a: Value, b: Value): Value { return binary('Add', a, b, (g) => [g, g]); }

export function sub(a: Value, b: Value): Value { return binary('Sub', a, b, (g) => [g, a.t.op('Neg', [g])]); }

export function mul(a: Value, b: Value): Value {
  const t = a.t;
  return binary('Mul', a, b, (g) => [t.op('Mul', [g, b.name]), t.op('Mul', [g, a.name])]);
}

export function div(a: Value, b: Value): Value {
  const t = a.t;
  // d(a/b)/db = -(a/b)/b
  return binary('Div', a, b, (g, y) => [t.op('Div', [g, b.name]), t.op('Neg', [t.op('Div', [t.op('Mul', [g, y]), b.name])])]);
}

/** x * c for a constant c. */
export function scale(x: Value, c: number): Value {
  const t = x.t;
  const k = t.scalar(c);
  return new Value(t, t.op('Mul', [x.name, k]), x.shape, [x], (g) => [t.op('Mul', [g, k])]);
}

/** x + c for a constant c. */
export function shift(x: Value, c: number): Value {
  const t = x.t;
  return new Value(t, t.op('Add', [x.name, t.scalar(c)]), x.shape, [x], (g) => [g]);
}

export function exp(x: Value): Value {
  const t = x.t;
  const y = t.op('Exp', [x.name]);
  return new Value(t, y, x.shape, [x], (g) => [t.op('Mul', [g, y])]);
}

export function log(x: Value): Value {
  const t = x.t;
  return new Value(t, t.op('Log', [x.name]), x.shape, [x], (g) => [t.op('Div', [g, x.name])]);
}

export function tanh(x: Value): Value {
  const t = x.t;
  const y = t.op('Tanh', [x.name]);
  return new Value(t, y, x.shape, [x], (g) => [t.op('Mul', [g, t.op('Sub', [t.scalar(1), t.op('Mul', [y, y])])])]);
}

/** 1/sqrt(x). */
export function rsqrt(x: Value): Value {
  const t = x.t;
  const y = t.op('Reciprocal', [t.op('Sqrt', [x.name])]);
  // d/dx x^-1/2 = -1/2 y^3
  return new Value(t, y, x.shape, [x], (g) =>
    [t.op('Mul', [g, t.op('Mul', [t.op('Mul', [y, y]), t.op('Mul', [y, t.scalar(-0.5)])])])]);
}

function reduce(type: 'ReduceSum' | 'ReduceMean', x: Value, axes: number[], keepdims: boolean): Value {
  const t = x.t;
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  const y = type === 'ReduceSum'
    ? t.op('ReduceSum', [x.name, t.b.constInt64(ax)], { keepdims: keepdims ? 1 : 0 })
    : t.op('ReduceMean', [x.name], { axes: ax, keepdims: keepdims ? 1 : 0 });
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  return new Value(t, y, shape, [x], (g) => {
    const gk = keepdims ? g : t.reshape(g, kept);
    const gs = type === 'ReduceMean' ? t.op('Mul', [gk, t.scalar(1 / count)]) : gk;
    return [t.op('Expand', [gs, t.b.constInt64(x.shape)])];
  });
}

export function sum(x: Value, axes: number[], keepdims = true): Value { return reduce('ReduceSum', x, axes, keepdims); }
export function mean(x: Value, axes: number[], keepdims = true): Value { return reduce('ReduceMean', x, axes, keepdims); }

const swapLast = (n: number) => [...Array(n - 2).keys(), n - 1, n - 2];

/** a @ b with numpy broadcasting of the batch dimensions. */
export function matmul(a: Value, b: Value): Value {
  const t = a.t;
  const [M, K] = a.shape.slice(-2), [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: [${a.shape}] @ [${b.shape}]`);
  const shape = [...broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N];
  const y = t.op('MatMul', [a.name, b.name]);
  return new Value(t, y, shape, [a, b], (g, needs) => {
    let ga: string | null = null, gb: string | null = null;
    // Batched products (attention) in float32 read their operands transposed in place (onnxruntime's
    // FusedMatMul): a Transpose node would copy a [B, H, T, D] tensor, and onnxruntime's transpose optimizer
    // merges it with the heads' own Transpose into one that no MatMul can absorb any more.
    const fused = b.shape.length > 2 && t.dtype === 'float32';
    if (needs[0]) {
      ga = b.shape.length === 2
        ? t.op('MatMul', [g, t.op('Transpose', [b.name], { perm: [1, 0] })])
        : t.sumTo(fused ? t.fusedMatMul(g, b.name, false, true)
          : t.op('MatMul', [g, t.op('Transpose', [b.name], { perm: swapLast(b.shape.length) })]), shape, a.shape);
    }
    if (needs[1]) {
      if (b.shape.length === 2) {
        // A weight shared across the batch: one Gemm over the flattened rows.
        gb = t.op('Gemm', [t.reshape(a.name, [-1, K]), t.reshape(g, [-1, N])], { transA: 1 });
      } else {
        gb = t.sumTo(fused ? t.fusedMatMul(a.name, g, true, false)
          : t.op('MatMul', [t.op('Transpose', [a.name], { perm: swapLast(a.shape.length) }), g]), shape, b.shape);
      }
    }
    return [ga, gb];
  });
}

/** a [M,K] @ b[N,K]^T, e.g. a language-model head tied to the embedding table. */
export function matmulT(a: Value, b: Value): Value {
  const t = a.t;
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[1]) {
    throw new Error(`matmulT: [${a.shape}] @ [${b.shape}]^T`);
  }
  const y = t.op('Gemm', [a.name, b.name], { transB: 1 });
  return new Value(t, y, [a.shape[0], b.shape[0]], [a, b], (g, needs) => [
    needs[0] ? t.op('Gemm', [g, b.name]) : null,
    needs[1] ? t.op('Gemm', [g, a.name], { transA: 1 }) : null,
  ]);
}
