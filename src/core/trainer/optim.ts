// Optimizers over Float32Array parameters, updated in place. AdamW as torch.optim.AdamW
// (Loshchilov & Hutter 2019: decoupled weight decay, bias-corrected moments), and plain SGD with momentum.
import { AdamWSimd } from './adamwSimd';

export type Params = Map<string, Float32Array>;

export interface AdamWConfig { kind: 'adamw'; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }
export interface SGDConfig { kind: 'sgd'; lr: number; momentum: number; weightDecay: number }
export type OptimConfig = AdamWConfig | SGDConfig;

export const adamwDefaults = (lr = 1e-3): AdamWConfig =>
  ({ kind: 'adamw', lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
export const sgdDefaults = (lr = 1e-2): SGDConfig => ({ kind: 'sgd', lr, momentum: 0, weightDecay: 0 });

/**
 * Everything needed to resume: moments per parameter and the step count. `kernels`: the SIMD loops, whose
 * memory holds the moments (see adamwSimd.ts); resuming copies into the moments, never replaces them.
 */
export interface OptimState { step: number; slots: Map<string, Float32Array[]>; kernels?: AdamWSimd | null }

/** Slots per parameter: AdamW's two moments, SGD's momentum buffer if any. */
export function slotCount(cfg: OptimConfig): number {
  return cfg.kind === 'adamw' ? 2 : cfg.momentum ? 1 : 0;
}

export function createState(cfg: OptimConfig, params: Params, kernels?: AdamWSimd | null): OptimState {
  const slots = new Map<string, Float32Array[]>();
  const simdSlots = cfg.kind === 'adamw' && kernels;
  for (const [name, p] of params) {
    slots.set(name, Array.from({ length: slotCount(cfg) }, () => (simdSlots ? kernels.array(p.length) : new Float32Array(p.length))));
  }
  return { step: 0, slots, kernels };
}

/** One update with learning rate `lr` (the schedule's value for this step). */
export function optimStep(cfg: OptimConfig, state: OptimState, params: Params, grads: Map<string, Float32Array | Float64Array>,
  lr: number): void {
  state.step++;
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) throw new Error(`no gradient for ${name}`);
    const slots = state.slots.get(name)!;
    if (cfg.kind === 'adamw') adamw(cfg, state.step, p, g, slots[0], slots[1], lr, state.kernels);
    else sgd(cfg, p, g, slots[0], lr);
  }
}

/** The SIMD loops of states that have none of their own (arrays copied through them). */
let shared: AdamWSimd | null | undefined;

// The loop is the optimizer's whole cost (~1M weights a step): constants are hoisted and the bias
// corrections folded out of it, so that each weight costs one sqrt, one division and no extra multiply.
// Float32 gradients go through the SIMD loop (adamwSimd.ts); float64 ones (gradient checks) through this one.
function adamw(c: AdamWConfig, t: number, p: Float32Array, g: Float32Array | Float64Array, m: Float32Array, v: Float32Array,
  lr: number, kernels?: AdamWSimd | null): void {
  const { beta1: b1, beta2: b2 } = c;
  const a1 = 1 - b1, a2 = 1 - b2;
  const decay = 1 - lr * c.weightDecay;
  // lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) = (lr sqrt(bc2)/bc1) * m / (sqrt(v) + eps sqrt(bc2))
  const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, t));
  const stepSize = (lr * sqrtBc2) / (1 - Math.pow(b1, t)), eps = c.eps * sqrtBc2;
  const simd = kernels ?? (shared ??= AdamWSimd.create());
  if (g instanceof Float32Array && simd?.update({ b1, b2, a1, a2, decay, stepSize, eps }, p, g, m, v)) return;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + a1 * gi;
    const vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) + eps);
  }
}

function sgd(c: SGDConfig, p: Float32Array, g: Float32Array | Float64Array, buf: Float32Array | undefined, lr: number): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i] + c.weightDecay * p[i];
    if (buf) d = buf[i] = c.momentum * buf[i] + d;
    p[i] -= lr * d;
  }
}

/** The global L2 norm of all gradients (gradients in `kernels`' memory summed there). */
export function gradNorm(grads: Map<string, Float32Array | Float64Array>, kernels?: AdamWSimd | null): number {
  let sq = 0;
  for (const g of grads.values()) sq += kernels?.sumOfSquares(g) ?? sumOfSquares(g);
  return Math.sqrt(sq);
}

/** Four independent sums: one chain of dependent additions would wait on each add's latency. */
function sumOfSquares(g: Float32Array | Float64Array): number {
  let a = 0, b = 0, c = 0, d = 0, i = 0;
  const n = g.length;
  for (; i + 3 < n; i += 4) {
    const w = g[i], x = g[i + 1], y = g[i + 2], z = g[i + 3];
    a += w * w; b += x * x; c += y * y; d += z * z;
  }
  for (; i < n; i++) a += g[i] * g[i];
  return a + b + c + d;
}

/** Scales all gradients in place so that their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: Map<string, Float32Array | Float64Array>, maxNorm: number, kernels?: AdamWSimd | null): number {
  const norm = gradNorm(grads, kernels);
  if (maxNorm > 0 && norm > maxNorm) {
    const k = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= k;
  }
  return norm;
}
