// One training step = one onnxruntime call (forward + loss + gradients) and an optimizer update in JS.
import type { DecoderConfig } from '../models/config';
import { GraphSession } from './graphSession';
import { buildModelGraph } from './model';
import { LoraSpec } from './params';
import { OptimConfig, OptimState, Params, clipGradNorm, createState, optimStep } from './optim';

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

  private constructor(readonly setup: StepSetup, private readonly train: GraphSession) {
    this.state = createState(setup.optim, setup.params);
  }

  static async create(setup: StepSetup): Promise<TrainStep> {
    const g = buildModelGraph({ config: setup.config, batch: setup.batch, block: setup.block, lora: setup.lora, grads: true });
    return new TrainStep(setup, await GraphSession.create(g.tape, setup.threads ?? 2, { reuseGradients: true, spin: 'auto' }));
  }

  private feeds(): Map<string, Float32Array> {
    return new Map([...(this.setup.frozen ?? new Map()), ...this.setup.params]);
  }

  /** `beforeUpdate` runs when loss and gradient are finite, just before the optimizer changes the weights. */
  async step(idx: BigInt64Array, targets: BigInt64Array, lr: number, clip = 0, beforeUpdate?: () => void): Promise<StepResult> {
    const { outputs, grads } = await this.train.run(this.feeds(), { idx, targets });
    const loss = outputs.get('loss')![0];
    const gradNorm = clipGradNorm(grads, clip);
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
