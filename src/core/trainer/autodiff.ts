// Reverse-mode autodiff over ONNX graph values, micrograd style.
//
// A Value is a named tensor in an ONNX graph being built, with a static shape. Every op emits its forward
// node(s) now and keeps a closure that, given the gradient of its output, emits the nodes for the gradients
// of its inputs. `backward(loss)` walks the values in reverse topological order once, summing the gradient
// contributions of values used more than once. The result is ONE graph (forward + loss + gradients) that
// onnxruntime runs in a single call per training step: per-op round trips from JS would be far slower.
import { onnx } from 'onnx-proto';
import { GraphBuilder, INT64, AttrValue } from '../onnx/builder';

export type DType = 'float32' | 'float64';
const ELEM: Record<DType, number> = { float32: onnx.TensorProto.DataType.FLOAT, float64: onnx.TensorProto.DataType.DOUBLE };

/**
 * A gradient emitted only when the value receiving it is reached, i.e. after every sibling output of a
 * multi-output op has delivered its own gradient (see `split`).
 */
export interface Deferred { emit: () => string }

/** Emits the gradients of an op's inputs (null where not needed) from the gradient of its output. */
export type GradFn = (g: string, needs: boolean[]) => (string | Deferred | null)[];

export class Value {
  readonly requiresGrad: boolean;
  constructor(readonly t: Tape, readonly name: string, readonly shape: number[], readonly parents: Value[] = [],
    readonly gradFn: GradFn | null = null, trainable = false) {
    this.requiresGrad = trainable || (gradFn !== null && parents.some((p) => p.requiresGrad));
  }
  get size(): number { return this.shape.reduce((a, b) => a * b, 1); }
}

export class Tape {
  readonly b: GraphBuilder;
  readonly elem: number;
  readonly params: Value[] = [];
  readonly frozen: Value[] = [];
  private consts = new Map<string, string>();

  constructor(name: string, readonly dtype: DType = 'float32') {
    this.b = new GraphBuilder(name);
    this.elem = ELEM[dtype];
  }

  /** A trainable weight: a graph input whose gradient becomes a graph output. */
  param(name: string, shape: number[]): Value {
    this.b.input(name, this.elem, shape);
    const v = new Value(this, name, shape, [], null, true);
    this.params.push(v);
    return v;
  }

  /** A weight fed in but not trained (LoRA base weights). */
  weight(name: string, shape: number[]): Value {
    this.b.input(name, this.elem, shape);
    const v = new Value(this, name, shape);
    this.frozen.push(v);
    return v;
  }

  /** Integer data (token ids, targets). */
  indices(name: string, shape: number[]): Value {
    this.b.input(name, INT64, shape);
    return new Value(this, name, shape);
  }

  /** A float constant of the tape's dtype, stored once in the graph (small ones by value, large ones by `key`). */
  constant(values: ArrayLike<number>, shape: number[], key?: string): string {
    const small = values.length <= 16;
    if (!small && key) key = `${shape}:${key}`;
    else key = small ? `${shape}:${Array.from(values)}` : undefined;
    if (key && this.consts.has(key)) return this.consts.get(key)!;
    const data = this.dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
    const name = this.b.fresh('c');
    this.b.initializers.push({ name, dims: shape, dataType: this.elem,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    if (key) this.consts.set(key, name);
    return name;
  }

  scalar(c: number): string { return this.constant([c], []); }

  /** A constant as a Value (no gradient), e.g. a causal mask or RoPE tables. */
  constValue(values: ArrayLike<number>, shape: number[], key?: string): Value {
    return new Value(this, this.constant(values, shape, key), shape);
  }

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.b.op(type, inputs, attrs);
  }

  /** a @ b with either read transposed (its last two axes swapped): onnxruntime's com.microsoft FusedMatMul, float32 only. */
  fusedMatMul(a: string, b: string, transA: boolean, transB: boolean): string {
    return this.b.node('FusedMatMul', [a, b], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 }, 1, 'com.microsoft')[0];
  }

  zeros(shape: number[]): string {
    const zero = new Uint8Array(this.dtype === 'float32' ? 4 : 8);
    return this.op('ConstantOfShape', [this.b.constInt64(shape)], { value: { dims: [1], dataType: this.elem, rawData: zero } });
  }

  reshape(x: string, shape: number[]): string { return this.op('Reshape', [x, this.b.constInt64(shape)]); }

  /** Sums a broadcast gradient back down to the shape of the input it flowed to. */
  sumTo(g: string, from: number[], to: number[]): string {
    if (sameShape(from, to)) return g;
    const lead = from.length - to.length;
    const axes: number[] = [];
    from.forEach((d, i) => { if (i < lead || (to[i - lead] === 1 && d !== 1)) axes.push(i); });
    if (!axes.length) return this.reshape(g, to);
    // Summed over the leading axes only (a bias or a norm's weight over all rows): a row of ones times the
    // rows, which onnxruntime runs 3-4x faster than a ReduceSum down the columns.
    if (axes.every((a, i) => a === i)) {
      const rows = axes.reduce((n, a) => n * from[a], 1);
      const ones = this.constant(new Array(rows).fill(1), [1, rows], 'ones');
      return this.reshape(this.op('MatMul', [ones, this.reshape(g, [rows, -1])]), to);
    }
    // Dropping the summed axes often leaves `to` itself (a bias summed over rows): no Reshape then.
    const dropped = from.filter((_, i) => !axes.includes(i));
    if (sameShape(dropped, to)) return this.op('ReduceSum', [g, this.b.constInt64(axes)], { keepdims: 0 });
    return this.reshape(this.op('ReduceSum', [g, this.b.constInt64(axes)], { keepdims: 1 }), to);
  }

  /** Emits gradient nodes for every trainable value that `loss` depends on. */
  backward(loss: Value): Map<Value, string> {
    const order: Value[] = [];
    const seen = new Set<Value>();
    const visit = (v: Value) => {   // iterative DFS: deep models overflow a recursive one
      const stack: [Value, number][] = [[v, 0]];
      seen.add(v);
      while (stack.length) {
        const top = stack[stack.length - 1];
        const [node, i] = top;
        if (i < node.parents.length) {
          top[1]++;
          const p = node.parents[i];
          if (p.requiresGrad && !seen.has(p)) { seen.add(p); stack.push([p, 0]); }
        } else { stack.pop(); order.push(node); }
      }
    };
    visit(loss);
    const pending = new Map<Value, (string | Deferred)[]>([[loss, [this.constant(new Array(loss.size).fill(1), loss.shape)]]]);
    const grads = new Map<Value, string>();
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i];
      const parts = pending.get(v)?.map((p) => (typeof p === 'string' ? p : p.emit()));
      if (!parts) continue;
      const g = parts.length === 1 ? parts[0] : this.op('Sum', parts);
      grads.set(v, g);
      if (!v.gradFn) continue;
      const needs = v.parents.map((p) => p.requiresGrad);
      const pg = v.gradFn(g, needs);
      v.parents.forEach((p, j) => {
        if (!needs[j] || !pg[j]) return;
        const list = pending.get(p) ?? [];
        // A deferred gradient is shared by sibling outputs and counts once; plain ones always add up
        // (add(a, a) hands `a` the same gradient twice).
        if (typeof pg[j] === 'string' || !list.includes(pg[j]!)) list.push(pg[j]!);
        pending.set(p, list);
      });
    }
    return grads;
  }

  /** Names the outputs (the loss and any extra values), then adds the gradient of every trainable parameter. */
  finish(outputs: Record<string, Value>, grads?: Map<Value, string>): void {
    for (const [name, v] of Object.entries(outputs)) this.b.output(this.b.op('Identity', [v.name], {}, name), this.elem, v.shape);
    if (!grads) return;
    for (const p of this.params) {
      const g = grads.get(p) ?? this.zeros(p.shape);
      this.b.output(this.b.op('Identity', [g], {}, gradName(p.name)), this.elem, p.shape);
    }
  }

  serialize(): Uint8Array { return this.b.serialize(); }
}

export const gradName = (param: string) => `grad.${param}`;

export function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function broadcastShape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(x, y));
  }
  return out;
}
