// Attribution: why this next token? Each input token's contribution to f, the log-probability of a target
// token after the text (or the target's logit minus a contrast token's: "why Zoo and not City").
//   occlusion             f(text) - f(text without token i), BOS included: any engine (onnxruntime runs the
//                         shortened texts in batches, llama.cpp one batch each, a server as token-id prompts).
//   gradient              df/de_i . e_i summed over the embedding, e_i token i's token-embedding row.
//   integrated-gradients  (e_i - b) . mean over steps of df/de_i at b + alpha (e - b), alpha the midpoints
//                         of [0, 1], b the mean token-embedding row at every position (Sundararajan et al.
//                         2017). An all-zero baseline does not converge at sane step counts: every RMSNorm
//                         amplifies tiny inputs.
// Gradients come from the project's autodiff over the model's own decoder (embeddingGradient.ts): models
// Token Lens wrote only. Scores are raw: no absolute values, no normalisation.
import { type Engine, logprobsIn } from '../engines/engine';
import type { ModelSession } from '../runtime/session';
import type { Objective } from './embeddingGradient';
import type { GradientScores } from './gradientScores';
import { runLensJob } from './lensThread';
import { LensUnavailableError, projectModelConfig } from './projectModel';

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

/** Logits one occlusion call may return (floats). */
const LOGIT_BUDGET = 1 << 24;

export class AttributionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttributionError';
  }
}

export async function attribute(engine: Engine, text: string, opts: AttributionOptions): Promise<Attribution> {
  if (opts.method !== 'occlusion' && engine.kind !== 'onnx') {
    throw new LensUnavailableError(`${opts.method} attribution: ${engine.missing.gradients ?? `${engine.kind} computes no gradients`}.`);
  }
  const analysis = await engine.analyze(text, { signal: opts.signal });
  const ids = analysis.tokens.map((t) => t.id);
  const T = ids.length;
  await engine.nameCandidatesAfter?.(ids, opts.signal);
  const target = opts.target === undefined ? refOf(engine, analysis.topK(T - 1, 1)[0].id) : resolveToken(engine, opts.target, 'target');
  const contrast = opts.contrast === undefined ? null : resolveToken(engine, opts.contrast, 'contrast');
  if (contrast && contrast.id === target.id) throw new AttributionError(`the contrast ${JSON.stringify(contrast.text)} is the target itself: f would be 0 for any text.`);
  const o: Objective = { target: target.id, contrast: contrast?.id ?? null };
  // Other engines give f on the text the way they give it for each occluded text, so the two always agree.
  const value = engine.kind === 'onnx'
    ? objectiveOf(await analysis.row(T - 1), o)
    : objectiveOfLogprobs((await engine.nextLogprobs!([ids], tokensOf(o), { signal: opts.signal }))[0]);
  const common = { method: opts.method, target, contrast, value };
  if (opts.method === 'occlusion') {
    return { ...common, scores: await occlusion(engine, ids, o, value, opts), baselineValue: null, baseline: null, steps: null };
  }
  const session = engine as ModelSession;
  try {
    projectModelConfig(session, opts.method === 'gradient' ? 'Gradient attribution' : 'Integrated gradients');
  } catch (e) {
    if (!(e instanceof LensUnavailableError)) throw e;
    throw new LensUnavailableError(`${e.message} This model supports occlusion only (--attribution occlusion).`);
  }
  const steps = opts.steps ?? DEFAULT_IG_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new AttributionError(`steps must be a positive integer, got ${steps}`);
  // The autodiff graph is built and run in the lens worker: the caller's thread stays free, and Cancel ends it at once.
  const r = await runLensJob<GradientScores>({ type: 'attribution', folder: session.folder, ids, objective: o, method: opts.method, steps }, opts);
  return opts.method === 'gradient'
    ? { ...common, scores: r.scores, baselineValue: null, baseline: null, steps: null }
    : { ...common, scores: r.scores, baselineValue: r.baselineValue, baseline: IG_BASELINE, steps };
}

/** A token id (digits), or the one token whose text is exactly `spec`. */
export function resolveToken(engine: Engine, spec: string, what: 'target' | 'contrast'): TokenRef {
  const V = engine.info.vocabSize;
  if (/^\d+$/.test(spec)) {
    const id = Number(spec);
    // A server's vocabulary size is unknown here (the server refuses an id beyond it); a candidate it
    // named by text only takes the id it has since given that text.
    if (engine.kind === 'remote') return refOf(engine, engine.idsOfText(engine.tokenText(id))[0] ?? id);
    if (id >= V) throw new AttributionError(`--${what} ${spec}: token ids of this model go from 0 to ${V - 1}.`);
    return refOf(engine, id);
  }
  const ids = engine.idsOfText(spec);
  if (!ids.length) {
    throw new AttributionError(`--${what} ${JSON.stringify(spec)}: no token of the vocabulary reads exactly so ` +
      '(give the text as the candidates show it, leading space included, or a token id).');
  }
  if (ids.length > 1) throw new AttributionError(`--${what} ${JSON.stringify(spec)}: tokens ${ids.join(', ')} all read so; give one id.`);
  return refOf(engine, ids[0]);
}

function refOf(engine: Engine, id: number): TokenRef { return { id, text: engine.tokenText(id) }; }

/** f of one row of logits, in float64. */
export function objectiveOf(logits: ArrayLike<number>, o: Objective): number {
  return o.contrast !== null ? logits[o.target] - logits[o.contrast] : logprobsIn(logits, [o.target])[0];
}

const tokensOf = (o: Objective) => (o.contrast === null ? [o.target] : [o.target, o.contrast]);

/** f from log p of [target, contrast]: the logit difference is the log-probability difference (one normaliser). */
const objectiveOfLogprobs = (lp: number[]) => (lp.length > 1 ? lp[0] - lp[1] : lp[0]);

/** f(text) - f(text without token i): the ONNX graph runs the shorter texts as batches; other engines score them their own way. */
async function occlusion(engine: Engine, ids: number[], o: Objective, value: number, opts: AttributionOptions): Promise<number[]> {
  const T = ids.length;
  if (T < 2) throw new AttributionError('occlusion needs at least two tokens: without its only token the text is empty.');
  const rows = ids.map((_, i) => ids.filter((__, j) => j !== i));
  if (engine.kind !== 'onnx') {
    const lps = await engine.nextLogprobs!(rows, tokensOf(o), { signal: opts.signal, onProgress: opts.onProgress });
    return lps.map((lp) => value - objectiveOfLogprobs(lp));
  }
  const session = engine as ModelSession;
  const V = session.info.vocabSize;
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
