// The logit lens (nostalgebraist 2020): the residual stream after each block, decoded through the model's
// own final norm and unembedding, as if the model stopped there. Where the final prediction first appears
// and then stays ("decision depth") shows how deep the model had to think about each token.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { FLOAT, INT64 } from '../onnx/builder';
import { head, weightShapes } from '../models/decoder';
import { Tape } from '../trainer/autodiff';
import { GraphSession } from '../trainer/graphSession';
import { ModelWeights } from '../trainer/params';
import { TapeOps } from '../trainer/tapeOps';
import type { ModelSession } from '../runtime/session';
import { LENS_HEAD_FILE } from '../runtime/hiddenStates';
import { hiddenStatesNote } from '../runtime/prepare';
import { LensUnavailableError, ProjectModel, projectModel, weightFeeds } from './projectModel';

export interface LensCandidate { id: number; text: string; prob: number }

export interface LogitLens {
  /** Blocks of the model: top[l] reads the stream after block l; top[layers - 1] is the model's output. */
  layers: number;
  /** top[layer][position]: the k likeliest next tokens after tokens[position], by falling probability. */
  top: LensCandidate[][][];
  /** Per position: the first layer from which the final top-1 stays top-1. */
  decisionDepth: number[];
}

export const NO_HIDDEN_STATES_NOTE = 'the logit lens needs the hidden states after each block, which this ' +
  'model export does not output: models Token Lens writes (import-llama2c, write-random, fine-tune) do; ' +
  'write or import this one again';

/** Rows decoded per onnxruntime call: the logits of a chunk stay near 64 MB whatever the vocabulary. */
const LOGIT_BUDGET = 1 << 24;

export async function logitLens(session: ModelSession, text: string, k: number,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<LogitLens> {
  const names = session.hiddenStateNames;
  if (!names.length) {
    // A foreign export whose blocks surgery could not find says why; other models need writing again.
    const why = hiddenStatesNote(session.folder);
    throw new LensUnavailableError(`No logit lens for ${session.ref}: ${why
      ? `the hidden states after each block could not be found in this export (${why})` : NO_HIDDEN_STATES_NOTE}.`);
  }
  // Surgery cut a foreign export's own final norm and unembedding out as the lens head; models Token Lens
  // wrote rebuild theirs from their config.
  const foreignHead = path.join(session.folder, 'onnx', LENS_HEAD_FILE);
  const model = fs.existsSync(foreignHead) ? undefined : projectModel(session, 'The logit lens');
  const analysis = await session.analyze(text, { signal: opts.signal });
  const ids = analysis.tokens.map((t) => t.id);
  const out = await session.run([ids], names, opts.signal);
  const L = names.length, T = ids.length, C = out[names[0]].dims[2], V = analysis.vocabSize;
  const kk = Math.min(k, V);
  const hidden = new Float32Array(L * T * C);
  names.forEach((n, l) => hidden.set(out[n].data as Float32Array, l * T * C));

  const rows = L * T;
  const chunk = Math.max(1, Math.min(rows, Math.floor(LOGIT_BUDGET / V)));
  const lensHead = model ? await LensHead.create(model, chunk, kk) : await ExportHead.create(foreignHead, chunk, kk);
  const top: LensCandidate[][][] = Array.from({ length: L }, () => []);
  try {
    for (let start = 0; start < rows; start += chunk) {
      if (opts.signal?.aborted) throw new Error('Cancelled.');
      const part = new Float32Array(chunk * C);
      part.set(hidden.subarray(start * C, Math.min(rows, start + chunk) * C));
      const { logits, indices, logSumExp } = await lensHead.run(part);
      for (let r = 0; r < chunk && start + r < rows; r++) {
        const row = start + r;
        top[Math.floor(row / T)].push(Array.from({ length: kk }, (_, j) => {
          const id = Number(indices[r * kk + j]);
          return { id, text: session.tokenText(id), prob: Math.exp(logits[r * kk + j] - logSumExp[r]) };
        }));
      }
      opts.onProgress?.(Math.min(rows, start + chunk), rows);
    }
  } finally {
    await lensHead.dispose();
  }
  return { layers: L, top, decisionDepth: decisionDepths(top) };
}

/** The first layer from which each position's top-1 equals the last layer's and stays so. */
export function decisionDepths(top: LensCandidate[][][]): number[] {
  const L = top.length;
  return top[L - 1].map((final, i) => {
    let l = L - 1;
    while (l > 0 && top[l - 1][i][0].id === final[0].id) l--;
    return l;
  });
}

interface HeadRows { logits: Float32Array; indices: BigInt64Array; logSumExp: Float32Array }

/** A foreign export's own final norm and unembedding, cut out by surgery (hiddenStates.ts), top-k included. */
class ExportHead {
  private constructor(private readonly s: ort.InferenceSession, private readonly rows: number, private readonly k: number) {}

  static async create(file: string, rows: number, k: number): Promise<ExportHead> {
    return new ExportHead(await ort.InferenceSession.create(file, { intraOpNumThreads: 2, logSeverityLevel: 3 }), rows, k);
  }

  async run(hidden: Float32Array): Promise<HeadRows> {
    const out = await this.s.run({
      hidden: new ort.Tensor('float32', hidden, [1, this.rows, hidden.length / this.rows]),
      k: new ort.Tensor('int64', BigInt64Array.from([BigInt(this.k)]), [1]),
    });
    return { logits: out.top_logits.data as Float32Array, indices: out.top_ids.data as BigInt64Array, logSumExp: out.logsumexp.data as Float32Array };
  }

  dispose(): Promise<void> { return this.s.release(); }
}

/** The decoder's head (src/core/models/decoder.ts) over rows of residual stream, with top-k in the graph. */
class LensHead {
  private constructor(private readonly s: GraphSession, private readonly feeds: Map<string, Float32Array>) {}

  static async create(m: ProjectModel, rows: number, k: number): Promise<LensHead> {
    const tape = new Tape('logit_lens');
    const w = new ModelWeights(tape, weightShapes(m.config), undefined, true);
    const hidden = tape.weight('hidden', [rows, 1, m.config.n_embd]);
    const logits = head(m.config, new TapeOps(w, hidden, true), hidden);
    const b = tape.b;
    b.node('TopK', [logits.name, b.constInt64([k])], { axis: -1 }, ['top_logits', 'top_ids']);
    b.op('ReduceLogSumExp', [logits.name], { axes: [-1], keepdims: 0 }, 'logsumexp');
    b.output('top_logits', FLOAT, [rows, k]);
    b.output('top_ids', INT64, [rows, k]);
    b.output('logsumexp', FLOAT, [rows]);
    // Only the weights the head reads are inputs of this graph.
    const all = weightFeeds(m);
    const feeds = new Map(tape.frozen.filter((v) => v.name !== 'hidden').map((v) => [v.name, all.get(v.name)!]));
    return new LensHead(await GraphSession.create(tape, 2), feeds);
  }

  async run(hidden: Float32Array): Promise<HeadRows> {
    const { outputs } = await this.s.run(new Map([...this.feeds, ['hidden', hidden]]), {});
    return {
      logits: outputs.get('top_logits') as Float32Array,
      indices: outputs.get('top_ids') as unknown as BigInt64Array,
      logSumExp: outputs.get('logsumexp') as Float32Array,
    };
  }

  dispose(): Promise<void> { return this.s.dispose(); }
}
