// Runs a built graph with onnxruntime: weights and integer data in, loss (and gradients) out.
import * as ort from 'onnxruntime-node';
import { Tape, gradName } from './autodiff';

export type Floats = Float32Array | Float64Array;

export interface RunResult {
  outputs: Map<string, Floats>;
  grads: Map<string, Floats>;
}

export interface SessionOptions {
  /** A file prefix: onnxruntime then records every kernel's time (see `endProfiling`). */
  profile?: string;
  /**
   * onnxruntime writes the gradients into the same arrays on every run (no fresh megabytes per training
   * step): each run's gradients are valid until the next run.
   */
  reuseGradients?: boolean;
}

export class GraphSession {
  private readonly gradBuffers: Record<string, ort.Tensor> | undefined;

  private constructor(private readonly s: ort.InferenceSession, private readonly tape: Tape, reuse: boolean) {
    if (!reuse) return;
    this.gradBuffers = {};
    const type = tape.dtype;
    for (const v of tape.params) {
      const data = type === 'float32' ? new Float32Array(v.size) : new Float64Array(v.size);
      this.gradBuffers[gradName(v.name)] = new ort.Tensor(type, data, v.shape);
    }
  }

  static async create(tape: Tape, threads = 2, opts: SessionOptions = {}): Promise<GraphSession> {
    const profile = opts.profile;
    const s = await ort.InferenceSession.create(tape.serialize(), {
      ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      executionMode: 'sequential', logSeverityLevel: 3,
      // Spinning worker threads starve everything else on a busy machine (the editor, other processes)
      // and were measured 2-5x slower there; blocking threads cost little when the machine is idle.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    } as ort.InferenceSession.SessionOptions);
    return new GraphSession(s, tape, opts.reuseGradients ?? false);
  }

  /** `weights` must hold every parameter and frozen weight of the tape; `ints` the integer inputs. */
  async run(weights: Map<string, Floats>, ints: Record<string, BigInt64Array>): Promise<RunResult> {
    const feeds: Record<string, ort.Tensor> = {};
    const type = this.tape.dtype;
    for (const v of [...this.tape.params, ...this.tape.frozen]) {
      const data = weights.get(v.name);
      if (!data) throw new Error(`missing weight ${v.name}`);
      feeds[v.name] = new ort.Tensor(type, data, v.shape);
    }
    for (const inp of this.tape.b.inputs) {
      const name = inp.name!;
      if (feeds[name]) continue;
      const dims = inp.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue));
      if (!ints[name]) throw new Error(`missing input ${name}`);
      feeds[name] = new ort.Tensor('int64', ints[name], dims);
    }
    const res = this.gradBuffers
      ? await this.s.run(feeds, { ...Object.fromEntries(this.s.outputNames.map((n) => [n, null])), ...this.gradBuffers })
      : await this.s.run(feeds);
    const outputs = new Map<string, Floats>();
    const grads = new Map<string, Floats>();
    for (const [name, tensor] of Object.entries(res)) {
      // onnxruntime wrote into our arrays and hands back views of its own: keep ours.
      if (name.startsWith('grad.')) grads.set(name.slice(5), (this.gradBuffers?.[name] ?? tensor).data as Floats);
      else outputs.set(name, tensor.data as Floats);
    }
    return { outputs, grads };
  }

  /** Stops profiling; onnxruntime writes the profile to `<prefix>_<date>.json`. */
  endProfiling(): void { this.s.endProfiling(); }

  async dispose(): Promise<void> { await this.s.release(); }
}

export { gradName };
