// Gradient × input and integrated gradients over a model Token Lens wrote, from its config and weights alone:
// the lens worker (lensWorker.ts) runs this off the caller's thread, since onnxruntime-node runs a session
// synchronously underneath its promise. See attribution.ts for the definitions.
import { EmbeddingGradient, Objective } from './embeddingGradient';
import type { ProjectModel } from './projectModel';

/** Activation memory one onnxruntime call may use, roughly: the batch of gradient inputs is cut to fit. */
const ACTIVATION_BUDGET = 512 * 1024 * 1024;

interface Progress { onProgress?: (done: number, total: number) => void }

export interface GradientScores { scores: number[]; baselineValue: number | null }

/** The scores of `method` for the ids (and f at the baseline for integrated gradients). */
export async function gradientScores(m: ProjectModel, ids: number[], o: Objective, method: 'gradient' | 'integrated-gradients',
  steps: number, opts: Progress = {}): Promise<GradientScores> {
  if (method === 'gradient') {
    const { grads } = await gradients(m, ids, [1], o, opts);
    return { scores: rowDots(grads[0], embeddingRows(m, ids), ids.length, m.config.n_embd), baselineValue: null };
  }
  return integratedGradients(m, ids, o, steps, opts);
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
async function gradients(m: ProjectModel, ids: number[], alphas: number[], o: Objective, opts: Progress,
  baseline?: Float32Array): Promise<{ f: number[]; grads: Float32Array[] }> {
  const c = m.config, T = ids.length, C = c.n_embd;
  const perRow = 4 * 3 * T * c.n_layer * (8 * C + 3 * c.d_ff + 2 * c.n_head * T) + 4 * 2 * c.vocab_size;
  const batch = Math.max(1, Math.min(alphas.length, Math.floor(ACTIVATION_BUDGET / perRow)));
  const e = embeddingRows(m, ids);
  const g = await EmbeddingGradient.create(m, batch, T, o);
  const f: number[] = [], grads: Float32Array[] = [];
  try {
    for (let start = 0; start < alphas.length; start += batch) {
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

async function integratedGradients(m: ProjectModel, ids: number[], o: Objective, steps: number, opts: Progress) {
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
