// Runs a built graph with onnxruntime: weights and integer data in, loss (and gradients) out.
import * as ort from 'onnxruntime-node';
import { Tape, gradName } from './autodiff';
import { SpinChoice, type WaitMode } from './spinChoice';

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
  /** Where a float32 gradient array of n values is made (default: a new Float32Array). */
  gradientArray?: (n: number) => Float32Array;
  /**
   * 'auto': keep a session whose threads spin between kernels beside the blocking one, and run whichever is
   * measured quicker on this machine now (spinChoice.ts); 'always': spinning threads only (profiling what
   * 'auto' picks on an idle machine). Otherwise the threads block.
   */
  spin?: 'auto' | 'always';
}

/** Above this many weights, a step's kernels are long enough that how threads wait hardly matters: one session. */
const SPIN_CHOICE_MAX_WEIGHTS = 20e6;

export class GraphSession {
  private readonly gradBuffers: Record<string, ort.Tensor> | undefined;

  private constructor(private readonly sessions: Partial<Record<WaitMode, ort.InferenceSession>>, private readonly tape: Tape,
    opts: SessionOptions, private readonly choice?: SpinChoice) {
    if (!opts.reuseGradients) return;
    this.gradBuffers = {};
    const type = tape.dtype;
    const array = opts.gradientArray ?? ((n: number) => new Float32Array(n));
    for (const v of tape.params) {
      const data = type === 'float32' ? array(v.size) : new Float64Array(v.size);
      this.gradBuffers[gradName(v.name)] = new ort.Tensor(type, data, v.shape);
    }
  }

  static async create(tape: Tape, threads = 2, opts: SessionOptions = {}): Promise<GraphSession> {
    const profile = opts.profile;
    const bytes = tape.serialize();
    const open = (mode: WaitMode) => ort.InferenceSession.create(bytes, {
      ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      executionMode: 'sequential', logSeverityLevel: 3,
      extra: {
        session: { intra_op: { allow_spinning: mode === 'spin' ? '1' : '0' } },
        // A product plus its bias stays two kernels: fused into one Gemm, onnxruntime first copies the bias into
        // every row of the output and the whole step took 5-8% longer (`nanogpt-cpu`).
        optimization: { disable_specified_optimizers: 'MatMulAddFusion' },
      },
    } as ort.InferenceSession.SessionOptions);
    const weights = [...tape.params, ...tape.frozen].reduce((n, v) => n + v.size, 0);
    // Blocking threads unless asked: spinning ones starve everything else on a busy machine (spinChoice.ts).
    const choose = opts.spin === 'auto' && threads > 1 && !profile && weights <= SPIN_CHOICE_MAX_WEIGHTS;
    if (opts.spin === 'always') return new GraphSession({ spin: await open('spin') }, tape, opts);
    if (!choose) return new GraphSession({ block: await open('block') }, tape, opts);
    return new GraphSession({ spin: await open('spin'), block: await open('block') }, tape, opts, new SpinChoice());
  }

  /** How the threads wait between kernels now: 'spin' only when measured quicker (see spinChoice.ts). */
  get waitMode(): WaitMode {
    return this.choice?.mode ?? (this.sessions.block ? 'block' : 'spin');
  }

  /** `weights` must hold every parameter and frozen weight of the tape; `ints` the integer inputs. */
  async run(weights: Map<string, Floats>, ints: Record<string, BigInt64Array>, mode?: WaitMode): Promise<RunResult> {
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
    const wait = mode && this.sessions[mode] ? mode : this.choice?.next() ?? (this.sessions.block ? 'block' : 'spin');
    const s = this.sessions[wait]!;
    const t0 = performance.now();
    const res = this.gradBuffers
      ? await s.run(feeds, { ...Object.fromEntries(s.outputNames.map((n) => [n, null])), ...this.gradBuffers })
      : await s.run(feeds);
    if (!mode) this.choice?.record(wait, performance.now() - t0);
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
  endProfiling(): void {
    for (const s of Object.values(this.sessions)) s.endProfiling();
  }

  async dispose(): Promise<void> {
    for (const s of Object.values(this.sessions)) await s.release();
  }
}

export { gradName };
