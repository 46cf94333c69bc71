// The decoder's operations on the autodiff tape: a static batch of B sequences of T tokens starting at
// position 0, every op with its gradient. Logits come out flattened to [B*T, V] for the loss.
import type { Ops } from '../models/decoder';
import { Value } from './autodiff';
import { causalMask, gather, geluExact, gelu, layerNorm, rmsNorm, silu, softmax } from './nn';
import { add, matmul, matmulT, mul, scale, sub } from './ops';
import type { ModelWeights } from './params';
import { concat, expand, reshape, slice, split, transpose } from './shape';

export class TapeOps implements Ops<Value> {
  private readonly T: number;

  /**
   * `tokens` are the input token ids [B, T], or (`embedded`) their token-embedding rows [B, T, C] as a value
   * of their own, so that gradients can reach them (attribution).
   */
  constructor(private readonly w: ModelWeights, private readonly tokens: Value, private readonly embedded = false) {
    this.T = tokens.shape[1];
  }

  weight(name: string): Value { return this.w.get(name); }

  /**
   * Layers reading the same x share one product against their weights side by side, and the rows are
   * flattened so that onnxruntime fuses the product with the bias (fewer, larger kernels).
   */
  linear(x: Value, names: string[], bias: boolean): Value[] {
    const rows = x.shape.slice(0, -1);
    const flat = reshape(x, [-1, x.shape[x.shape.length - 1]]);
    const side = (suffix: string, axis: number) => {
      const vs = names.map((n) => this.w.get(n + suffix));
      return vs.length === 1 ? vs[0] : concat(vs, axis);
    };
    let y = matmul(flat, side('.weight', 1));
    if (bias) y = add(y, side('.bias', 0));
    const sizes = names.map((n) => this.w.get(`${n}.weight`).shape[1]);
    const parts = names.length === 1 ? [y] : split(y, 1, sizes);
    return parts.map((part, i) => reshape(this.w.adapt(flat, `${names[i]}.weight`, part), [...rows, sizes[i]]));
  }
  embed(table: Value): Value { return this.embedded ? this.tokens : gather(table, this.tokens); }
  atPositions(table: Value): Value { return this.T === table.shape[0] ? table : slice(table, 0, 0, this.T); }

  rotary(invFreq: Float32Array): { cos: Value; sin: Value } {
    const half = invFreq.length;
    const cos = new Float64Array(this.T * half), sin = new Float64Array(this.T * half);
    for (let p = 0; p < this.T; p++) {
      for (let i = 0; i < half; i++) {
        // The angle rounded to float32, as the inference graph computes it.
        const angle = Math.fround(p * invFreq[i]);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    const key = `rope:${this.T}:${invFreq.join()}`;
    const t = this.w.t;
    return { cos: t.constValue(cos, [this.T, half], `cos:${key}`), sin: t.constValue(sin, [this.T, half], `sin:${key}`) };
  }

  add(a: Value, b: Value): Value { return add(a, b); }
  sub(a: Value, b: Value): Value { return sub(a, b); }
  mul(a: Value, b: Value): Value { return mul(a, b); }
  scale(x: Value, c: number): Value { return scale(x, c); }
  matmul(a: Value, b: Value): Value { return matmul(a, b); }
  reshape(x: Value, shape: number[]): Value { return reshape(x, shape); }
  transpose(x: Value, perm: number[]): Value { return transpose(x, perm); }
  expand(x: Value, shape: number[]): Value { return expand(x, shape); }
  split(x: Value, axis: number, sizes: number[]): Value[] { return split(x, axis, sizes); }
  concat(xs: Value[], axis: number): Value { return concat(xs, axis); }

  layerNorm(x: Value, w: Value, b: Value | null, eps: number): Value { return layerNorm(x, w, b, eps); }
  rmsNorm(x: Value, w: Value, eps: number): Value { return rmsNorm(x, w, eps); }
  gelu(x: Value, flavour: 'tanh' | 'exact'): Value { return flavour === 'exact' ? geluExact(x) : gelu(x); }
  silu(x: Value): Value { return silu(x); }
  softmax(x: Value): Value { return softmax(x); }

  /** No cache: every position is in this batch. */
  cache(_layer: number, k: Value, v: Value): [Value, Value] { return [k, v]; }

  causal(scores: Value, window: number | null): Value {
    const mask = causalMask(this.T, window);
    return add(scores, this.w.t.constValue(mask, [this.T, this.T], window === null ? 'causal_mask' : `causal_mask:${window}`));
  }

  expose(): void {}

  logits(x: Value, table: Value): Value {
    return matmulT(reshape(x, [-1, x.shape[x.shape.length - 1]]), table);
  }
}
