// Ops that only move values around: their gradients move them back.
import { Deferred, Value, broadcastShape, sameShape } from './autodiff';

/** ONNX Reshape's conventions: 0 keeps x's dimension at that index, -1 is inferred. */
export function reshape(x: Value, shape: number[]): Value {
  const t = x.t;
  const kept = shape.map((d, i) => (d === 0 ? x.shape[i] : d));
  const known = kept.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const out = kept.map((d) => (d === -1 ? x.size / known : d));
  if (out.reduce((a, b) => a * b, 1) !== x.size) throw new Error(`reshape: [${x.shape}] to [${shape}]`);
  if (sameShape(out, x.shape)) return x;
  return new Value(t, t.reshape(x.name, out), out, [x], (g) => [t.reshape(g, x.shape)]);
}

export function transpose(x: Value, perm: number[]): Value {
  const t = x.t;
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return new Value(t, t.op('Transpose', [x.name], { perm }), perm.map((p) => x.shape[p]), [x],
    (g) => [t.op('Transpose', [g], { perm: inverse })]);
}

/** x[..., start:end, ...] along one axis; the gradient is zero-padded back to x's shape. */
export function slice(x: Value, axis: number, start: number, end: number): Value {
  const t = x.t;
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const shape = x.shape.map((d, i) => (i === ax ? end - start : d));
  const y = t.op('Slice', [x.name, t.b.constInt64([start]), t.b.constInt64([end]), t.b.constInt64([ax])]);
  return new Value(t, y, shape, [x], (g) => {
    const pads = new Array(2 * x.shape.length).fill(0);
    pads[ax] = start;
    pads[x.shape.length + ax] = x.shape[ax] - end;
    return [t.op('Pad', [g, t.b.constInt64(pads)])];
  });
}

/**
 * Splits x along an axis into `parts` equal parts or parts of the given sizes; the parts' gradients are
 * concatenated back (zeros for unused parts).
 */
export function split(x: Value, axis: number, parts: number | number[]): Value[] {
  const t = x.t;
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const sizes = typeof parts === 'number' ? new Array(parts).fill(x.shape[ax] / parts) : parts;
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[ax]) throw new Error(`split: [${sizes}] of axis ${ax} of [${x.shape}]`);
  const shapes = sizes.map((n) => x.shape.map((d, i) => (i === ax ? n : d)));
  const names = t.b.node('Split', [x.name, t.b.constInt64(sizes)], { axis: ax }, sizes.length);
  const grads: (string | null)[] = new Array(sizes.length).fill(null);
  const joined: Deferred = {
    emit: () => t.op('Concat', grads.map((g, i) => g ?? t.zeros(shapes[i])), { axis: ax }),
  };
  return names.map((name, i) => new Value(t, name, shapes[i], [x], (g) => {
    grads[i] = g;
    return [joined];
  }));
}

/** Broadcasts x to a shape (numpy rules); the gradient sums back over the broadcast dimensions. */
export function expand(x: Value, shape: number[]): Value {
  const t = x.t;
  const out = broadcastShape(x.shape, shape);
  return new Value(t, t.op('Expand', [x.name, t.b.constInt64(shape)]), out, [x], (g) => [t.sumTo(g, out, x.shape)]);
}

export function concat(xs: Value[], axis: number): Value {
  const t = xs[0].t;
  const ax = axis < 0 ? axis + xs[0].shape.length : axis;
  const sizes = xs.map((x) => x.shape[ax]);
  const shape = xs[0].shape.map((d, i) => (i === ax ? sizes.reduce((a, b) => a + b, 0) : d));
  const y = t.op('Concat', xs.map((x) => x.name), { axis: ax });
  return new Value(t, y, shape, xs, (g) =>
    t.b.node('Split', [g, t.b.constInt64(sizes)], { axis: ax }, xs.length));
}
