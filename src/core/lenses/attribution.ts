// Attribution: why this next token? Each input token's contribution to f, the log-probability of a target
// token after the text (or the target's logit minus a contrast token's: "why Zoo and not City").
//   occlusion             f(text) - f(text without token i): any engine, one batched pass.
//   gradient              df/de_i . e_i summed over the embedding, e_i token i's token-embedding row.
//   integrated-gradients  (e_i - b) . mean over steps of df/de_i at b + alpha (e - b), alpha the midpoints
//                         of [0, 1], b the mean token-embedding row at every position (Sundararajan et al.
//                         2017). An all-zero baseline does not converge at sane step counts: every RMSNorm
//                         amplifies tiny inputs.
// Gradients come from the project's autodiff over the model's own decoder (embeddingGradient.ts): models
// Token Lens wrote only. Scores are raw: no absolute values, no normalisation.
import type { ModelSession } from '../runtime/session';
import { EmbeddingGradient, Objective } from './embeddingGradient';
import { LensUnavailableError, ProjectModel, projectModel } from './projectModel';

export const ATTRIBUTION_METHODS = ['occlusion', 'gradient', 'integrated-gradients'] as const;
export type AttributionMethod = typeof ATTRIBUTION_METHODS[number];

export interface AttributionOptions {
  method: AttributionMethod;
  /** A token id, or a token's text exactly as candidates show it (leading space included); default: the top-1. */
  target?: string;
  contrast?: string;
  /** Integrated gradients' steps (default 64). */
  steps?: number;
  signal?: AbortSignal;
  /** Work done out of total (integrated gradients' and occlusion's batches). */
  onProgress?: (done: number, total: number) => void;
}

export interface TokenRef { id: number; text: string }

export interface Attribution {
  method: AttributionMethod;
  target: TokenRef;
  contrast: TokenRef | null;
  /** One per token of the analysis, BOS included. */
  scores: number[];
  /** f on the text. */
  value: number;
  /** Integrated gradients: f at the baseline, its description and the steps; null otherwise. */
  baselineValue: number | null;
  baseline: string | null;
  steps: number | null;
}

export const DEFAULT_IG_STEPS = 64;
export const IG_BASELINE = 'mean token embedding';

/** Activation memory one onnxruntime call may use, roughly: the batch of gradient inputs is cut to fit. */
const ACTIVATION_BUDGET = 512 * 1024 * 1024;
/** Logits one occlusion call may return (floats). */
const LOGIT_BUDGET = 1 << 24;

export class AttributionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttributionError';
  }
}

export async function attribute(session: ModelSession, text: string, opts: AttributionOptions): Promise<Attribution> {
  const analysis = await session.analyze(text, { signal: opts.signal });
  const ids = analysis.tokens.map((t) => t.id);
  const last = await analysis.row(ids.length - 1);
  const target = opts.target === undefined ? refOf(session, argmax(last)) : resolveToken(session, opts.target, 'target');
  const contrast = opts.contrast === undefined ? null : resolveToken(session, opts.contrast, 'contrast');
  if (contrast && contrast.id === target.id) throw new AttributionError(`the contrast ${JSON.stringify(contrast.text)} is the target itself: f would be 0 for any text.`);
  const o: Objective = { target: target.id, contrast: contrast?.id ?? null };
  const value = objectiveOf(last, o);
  const common = { method: opts.method, target, contrast, value };
  if (opts.method === 'occlusion') {
    return { ...common, scores: await occlusion(session, ids, o, value, opts), baselineValue: null, baseline: null, steps: null };
  }
  let model: ProjectModel;
  try {
    model = projectModel(session, opts.method === 'gradient' ? 'Gradient attribution' : 'Integrated gradients');
  } catch (e) {
    if (!(e instanceof LensUnavailableError)) throw e;
    throw new LensUnavailableError(`${e.message} This model supports occlusion only (--attribution occlusion).`);
  }
  if (opts.method === 'gradient') {
    const { grads } = await gradients(model, ids, [1], o, opts);
    const e = embeddingRows(model, ids);
    return { ...common, scores: rowDots(grads[0], e, ids.length, model.config.n_embd), baselineValue: null, baseline: null, steps: null };
  }
  const steps = opts.steps ?? DEFAULT_IG_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new AttributionError(`steps must be a positive integer, got ${steps}`);
  return { ...common, ...await integratedGradients(model, ids, o, steps, opts), baseline: IG_BASELINE, steps };
}

/** A token id (digits), or the one token whose text is exactly `spec`. */
export function resolveToken(session: ModelSession, spec: string, what: 'target' | 'contrast'): TokenRef {
  const V = session.info.vocabSize;
  if (/^\d+$/.test(spec)) {
    const id = Number(spec);
    if (id >= V) throw new AttributionError(`--${what} ${spec}: token ids of this model go from 0 to ${V - 1}.`);
    return refOf(session, id);
  }
  const ids = session.idsOfText(spec);
  if (!ids.length) {
    throw new AttributionError(`--${what} ${JSON.stringify(spec)}: no token of the vocabulary reads exactly so ` +
      '(give the text as the candidates show it, leading space included, or a token id).');
  }
  if (ids.length > 1) throw new AttributionError(`--${what} ${JSON.stringify(spec)}: tokens ${ids.join(', ')} all read so; give one id.`);
  return refOf(session, ids[0]);
}

function refOf(session: ModelSession, id: number): TokenRef { return { id, text: session.tokenText(id) }; }

/** f of one row of logits, in float64. */
export function objectiveOf(logits: ArrayLike<number>, o: Objective): number {
  if (o.contrast !== null) return logits[o.target] - logits[o.contrast];
  let max = -Infinity;
  for (let v = 0; v < logits.length; v++) max = Math.max(max, logits[v]);
  let z = 0;
  for (let v = 0; v < logits.length; v++) z += Math.exp(logits[v] - max);
  return logits[o.target] - max - Math.log(z);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
}

/** f(text) - f(text without token i), the texts without one token each run as batches. */
async function occlusion(session: ModelSession, ids: number[], o: Objective, value: number, opts: AttributionOptions): Promise<number[]> {
  const T = ids.length;
  if (T < 2) throw new AttributionError('occlusion needs at least two tokens: without its only token the text is empty.');
  const V = session.info.vocabSize;
  const rows = ids.map((_, i) => ids.filter((__, j) => j !== i));
  const chunk = Math.max(1, Math.floor(LOGIT_BUDGET / ((T - 1) * V)));
  const scores: number[] = [];
  for (let start = 0; start < T; start += chunk) {
    const batch = rows.slice(start, start + chunk);
    const logits = (await session.run(batch, ['logits'], opts.signal)).logits;
    const width = logits.dims[2];
    const data = logits.data as Float32Array;
    batch.forEach((_, b) => {
      const at = (b * (T - 1) + T - 2) * width;
      scores.push(value - objectiveOf(data.subarray(at, at + width), o));
    });
    opts.onProgress?.(Math.min(T, start + chunk), T);
  }
  return scores;
}

/** Token-embedding rows of the ids, [T, C]. */
function embeddingRows(m: ProjectModel, ids: number[]): Float32Array {
  const C = m.config.n_embd, table = m.weights.get('tok_emb')!.data;
  const e = new Float32Array(ids.length * C);
  ids.forEach((id, i) => e.set(table.subarray(id * C, (id + 1) * C), i * C));
  return e;
}

/** The mean token-embedding row [C], over the whole table. */
function meanEmbedding(m: ProjectModel): Float32Array {
  const { n_embd: C, vocab_size: V } = m.config, table = m.weights.get('tok_emb')!.data;
  const sum = new Float64Array(C);
  for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) sum[c] += table[v * C + c];
  return Float32Array.from(sum, (s) => s / V);
}

/** sum_c a[i, c] * b[i, c] per row i. */
function rowDots(a: Float32Array, b: Float32Array, T: number, C: number): number[] {
  return Array.from({ length: T }, (_, i) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += a[i * C + c] * b[i * C + c];
    return s;
  });
}

/**
 * f and df/de at b + alpha (e - b) for each alpha (alpha 1: the text's own rows), in batches that fit
 * ACTIVATION_BUDGET.
 */
async function gradients(m: ProjectModel, ids: number[], alphas: number[], o: Objective, opts: AttributionOptions,
  baseline?: Float32Array): Promise<{ f: number[]; grads: Float32Array[] }> {
  const c = m.config, T = ids.length, C = c.n_embd;
  const perRow = 4 * 3 * T * c.n_layer * (8 * C + 3 * c.d_ff + 2 * c.n_head * T) + 4 * 2 * c.vocab_size;
  const batch = Math.max(1, Math.min(alphas.length, Math.floor(ACTIVATION_BUDGET / perRow)));
  const e = embeddingRows(m, ids);
  const g = await EmbeddingGradient.create(m, batch, T, o);
  const f: number[] = [], grads: Float32Array[] = [];
  try {
    for (let start = 0; start < alphas.length; start += batch) {
      if (opts.signal?.aborted) throw new AttributionError('Cancelled.');
      const input = new Float32Array(batch * T * C);
      for (let r = 0; r < batch; r++) {
        const alpha = alphas[Math.min(start + r, alphas.length - 1)];
        for (let j = 0; j < T * C; j++) {
          const b = baseline ? baseline[j % C] : 0;
          input[r * T * C + j] = alpha === 1 ? e[j] : b + alpha * (e[j] - b);
        }
      }
      const out = await g.run(input);
      for (let r = 0; r < batch && start + r < alphas.length; r++) {
        f.push(out.f[r]);
        grads.push(out.grad.slice(r * T * C, (r + 1) * T * C));
      }
      opts.onProgress?.(Math.min(alphas.length, start + batch), alphas.length);
    }
  } finally {
    await g.dispose();
  }
  return { f, grads };
}

async function integratedGradients(m: ProjectModel, ids: number[], o: Objective, steps: number, opts: AttributionOptions) {
  const T = ids.length, C = m.config.n_embd;
  const b = meanEmbedding(m), e = embeddingRows(m, ids);
  // The midpoints of [0, 1], then the baseline itself (alpha 0) for f(baseline).
  const alphas = [...Array.from({ length: steps }, (_, s) => (s + 0.5) / steps), 0];
  const { f, grads } = await gradients(m, ids, alphas, o, opts, b);
  const mean = new Float64Array(T * C);
  for (let s = 0; s < steps; s++) for (let j = 0; j < T * C; j++) mean[j] += grads[s][j] / steps;
  const scores = Array.from({ length: T }, (_, i) => {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += (e[i * C + c] - b[c]) * mean[i * C + c];
    return sum;
  });
  return { scores, baselineValue: f[steps] };
}
