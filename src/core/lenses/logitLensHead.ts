// The logit lens's decoding: rows of residual stream through the model's own final norm and unembedding, top-k
// in the graph: rebuilt from the decoder definition for models Token Lens wrote, or the head surgery cut out of
// a foreign export. Runs in the lens worker (lensWorker.ts): onnxruntime-node runs a session synchronously
// underneath its promise, which on the editor's thread would freeze it.
import * as ort from 'onnxruntime-node';
import { FLOAT, INT64 } from '../onnx/builder';
import { head, weightShapes } from '../models/decoder';
import { Tape } from '../trainer/autodiff';
import { GraphSession } from '../trainer/graphSession';
import { ModelWeights } from '../trainer/params';
import { TapeOps } from '../trainer/tapeOps';
import { ProjectModel, weightFeeds } from './projectModel';

/** Rows decoded per onnxruntime call: the logits of a chunk stay near 64 MB whatever the vocabulary. */
const LOGIT_BUDGET = 1 << 24;

/** Row r's k best ids and their probabilities, at [r * k + j], by falling probability. */
export interface DecodedRows { ids: Int32Array; probs: Float32Array }

/** Where the head comes from: the model Token Lens wrote, or a foreign export's head file. */
export type HeadSource = { model: ProjectModel } | { file: string };

/** Decodes `rows` rows of width C (`hidden`, row-major) over a vocabulary of V into each row's top-k. */
export async function decodeHidden(source: HeadSource, hidden: Float32Array, rows: number, C: number, V: number, k: number,
  onProgress?: (done: number, total: number) => void): Promise<DecodedRows> {
  const chunk = Math.max(1, Math.min(rows, Math.floor(LOGIT_BUDGET / V)));
  const lensHead = 'model' in source ? await LensHead.create(source.model, chunk, k) : await ExportHead.create(source.file, chunk, k);
  const ids = new Int32Array(rows * k), probs = new Float32Array(rows * k);
  try {
    for (let start = 0; start < rows; start += chunk) {
      const part = new Float32Array(chunk * C);
      part.set(hidden.subarray(start * C, Math.min(rows, start + chunk) * C));
      const { logits, indices, logSumExp } = await lensHead.run(part);
      for (let r = 0; r < chunk && start + r < rows; r++) {
        for (let j = 0; j < k; j++) {
          ids[(start + r) * k + j] = Number(indices[r * k + j]);
          probs[(start + r) * k + j] = Math.exp(logits[r * k + j] - logSumExp[r]);
        }
      }
      onProgress?.(Math.min(rows, start + chunk), rows);
    }
  } finally {
    await lensHead.dispose();
  }
  return { ids, probs };
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
