// The attributed quantity f and its gradient with respect to the token-embedding rows, as ONE graph built
// by the project's autodiff from the same decoder definition every model runs (src/core/models/decoder.ts):
// the rows come in as a differentiable input instead of the ids' gather, and a batch of B inputs (the steps
// of integrated gradients) runs in one onnxruntime call.
import { decoder, weightShapes } from '../models/decoder';
import { Tape, Value } from '../trainer/autodiff';
import { GraphSession } from '../trainer/graphSession';
import { ModelWeights } from '../trainer/params';
import { slice } from '../trainer/shape';
import { TapeOps } from '../trainer/tapeOps';
import { ProjectModel, weightFeeds } from './projectModel';

/** f = log p(target), or logit(target) - logit(contrast) when a contrast is given. */
export interface Objective { target: number; contrast: number | null }

/** The decoder on embedding rows, with the head applied at the last position only: f needs no other. */
class LastPositionOps extends TapeOps {
  constructor(w: ModelWeights, embeddings: Value, private readonly length: number) { super(w, embeddings, true); }
  logits(x: Value, table: Value): Value { return super.logits(slice(x, 1, this.length - 1, this.length), table); }
}

/** f of each row of logits [B, V] ([B]), with its gradient. */
function objective(logits: Value, o: Objective): Value {
  const t = logits.t;
  const V = logits.shape[1];
  const pick = (id: number) => t.op('Gather', [logits.name, t.b.constInt64([id], [])], { axis: 1 });
  const y = o.contrast === null
    ? t.op('Sub', [pick(o.target), t.op('ReduceLogSumExp', [logits.name], { axes: [1], keepdims: 0 })])
    : t.op('Sub', [pick(o.target), pick(o.contrast)]);
  const oneHot = (id: number) => {
    const v = new Float32Array(V);
    v[id] = 1;
    return t.constant(v, [1, V], `onehot:${id}`);
  };
  return new Value(t, y, [logits.shape[0]], [logits], (g) => {
    // d log p(t) / dz = onehot(t) - softmax(z); d (z_t - z_c) / dz = onehot(t) - onehot(c).
    const minus = o.contrast === null ? t.op('Softmax', [logits.name], { axis: 1 }) : oneHot(o.contrast);
    const d = t.op('Sub', [oneHot(o.target), minus]);
    return [t.op('Mul', [t.op('Unsqueeze', [g, t.b.constInt64([1])]), d])];
  });
}

export interface GradientResult {
  /** f per row [B]. */
  f: Float32Array;
  /** df/de per row [B, T, C]. */
  grad: Float32Array;
}

export class EmbeddingGradient {
  private constructor(private readonly s: GraphSession, private readonly feeds: Map<string, Float32Array>,
    readonly batch: number, readonly length: number) {}

  static async create(m: ProjectModel, batch: number, length: number, o: Objective, threads = 2): Promise<EmbeddingGradient> {
    const c = m.config;
    const tape = new Tape('attribution');
    const w = new ModelWeights(tape, weightShapes(c), undefined, true);
    const embeddings = tape.param('embeddings', [batch, length, c.n_embd]);
    const f = objective(decoder(c, new LastPositionOps(w, embeddings, length)), o);
    tape.finish({ f }, tape.backward(f));
    const all = weightFeeds(m);
    const feeds = new Map(tape.frozen.map((v) => [v.name, all.get(v.name)!]));
    return new EmbeddingGradient(await GraphSession.create(tape, threads), feeds, batch, length);
  }

  /** `embeddings` holds `batch` inputs of [length, C] rows. */
  async run(embeddings: Float32Array): Promise<GradientResult> {
    const { outputs, grads } = await this.s.run(new Map([...this.feeds, ['embeddings', embeddings]]), {});
    return { f: outputs.get('f') as Float32Array, grad: grads.get('embeddings') as Float32Array };
  }

  dispose(): Promise<void> { return this.s.dispose(); }
}
