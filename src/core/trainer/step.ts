// One training step = one onnxruntime call (forward + loss + gradients) and an optimizer update in JS.
import type { DecoderConfig } from '../models/config';
import { GraphSession } from './graphSession';
import { buildModelGraph } from './model';
import { LoraSpec } from './params';
import { AdamWSimd } from './adamwSimd';
import { OptimConfig, OptimState, Params, clipGradNorm, createState, optimStep, slotCount } from './optim';

export interface StepSetup {
  config: DecoderConfig;
  batch: number;
  block: number;
  /** Trained in place. */
  params: Params;
  /** Fed in but not trained (the base weights under LoRA). */
  frozen?: Params;
  lora?: LoraSpec;
  optim: OptimConfig;
  threads?: number;
}

export interface StepResult { loss: number; gradNorm: number }

export class TrainStep {
  readonly state: OptimState;
  private evalSession: GraphSession | null = null;

  private constructor(readonly setup: StepSetup, private readonly train: GraphSession, kernels: AdamWSimd | null) {
    this.state = createState(setup.optim, setup.params, kernels);
  }

  static async create(setup: StepSetup): Promise<TrainStep> {
    const g = buildModelGraph({ config: setup.config, batch: setup.batch, block: setup.block, lora: setup.lora, grads: true });
    // The gradients (written there by onnxruntime) and the optimizer's moments live in the SIMD loops' memory.
    const sizes = [...setup.params.values()].map((p) => p.length);
    const arena = AdamWSimd.arenaFloats(sizes) * (1 + slotCount(setup.optim));
    const kernels = AdamWSimd.create(arena, Math.max(0, ...sizes));
    const train = await GraphSession.create(g.tape, setup.threads ?? 2,
      { reuseGradients: true, spin: 'auto', gradientArray: kernels ? (n) => kernels.array(n) : undefined });
    return new TrainStep(setup, train, kernels);
  }

  /** How onnxruntime's threads wait between kernels now (graphSession.ts). */
  get waitMode(): 'spin' | 'block' {
    return this.train.waitMode;
  }

  private feeds(): Map<string, Float32Array> {
    return new Map([...(this.setup.frozen ?? new Map()), ...this.setup.params]);
  }

  /** `beforeUpdate` runs when loss and gradient are finite, just before the optimizer changes the weights. */
  async step(idx: BigInt64Array, targets: BigInt64Array, lr: number, clip = 0, beforeUpdate?: () => void): Promise<StepResult> {
    const { outputs, grads } = await this.train.run(this.feeds(), { idx, targets });
    const loss = outputs.get('loss')![0];
    const gradNorm = clipGradNorm(grads, clip, this.state.kernels);
    // A non-finite loss or gradient would poison the weights: leave them as they were.
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
      beforeUpdate?.();
      optimStep(this.setup.optim, this.state, this.setup.params, grads, lr);
    }
    return { loss, gradNorm };
  }

  /** Loss without gradients (validation). */
  async evaluate(idx: BigInt64Array, targets: BigInt64Array): Promise<number> {
    if (!this.evalSession) {
      const s = this.setup;
      const g = buildModelGraph({ config: s.config, batch: s.batch, block: s.block, lora: s.lora, grads: false });
      this.evalSession = await GraphSession.create(g.tape, s.threads ?? 2);
    }
    return (await this.evalSession.run(this.feeds(), { idx, targets })).outputs.get('loss')![0];
  }

  async dispose(): Promise<void> {
    await this.train.dispose();
    await this.evalSession?.dispose();
  }
}
