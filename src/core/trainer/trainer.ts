// The training loop: data -> steps -> validation -> checkpoints -> an exported model folder.
// Runs from scratch on a file's characters (a preset GPT), or fine-tunes a model folder fully or with LoRA.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DecoderConfig, Weights } from '../models/config';
import { weightShapes } from '../models/decoder';
import { readModelFolderConfig, readModelFolderSpecialTokens, readModelFolderWeights, SpecialTokens,
  writeModelFolder } from '../models/folder';
import { randomWeights } from '../models/random';
import type { TokenizerFiles } from '../tokenizers/types';
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { LastFinite } from './lastFinite';
import { DataError, encodeChars, encodeWithTokenizer, getBatch, readTextFile, splitTokens } from './data';
import { initLora, mergeLora } from './model';
import { adamwDefaults, OptimConfig, sgdDefaults } from './optim';
import type { LoraSpec } from './params';
import { TRAINING_PRESETS, presetConfig } from './presets';
import { Rng } from './rng';
import { lrAt, Schedule } from './schedule';
import { TrainStep } from './step';

export interface TrainOptions {
  file: string;
  out: string;
  /** A model folder to fine-tune; without it a `preset` GPT learns the file's characters from scratch. */
  from?: string;
  preset?: string;
  /** LoRA rank (fine-tuning only); 0 or absent trains every weight. */
  lora?: number;
  loraAlpha?: number;
  steps: number;
  lr?: number;
  optimizer?: 'adamw' | 'sgd';
  seed?: number;
  batch?: number;
  block?: number;
  evalEvery?: number;
  evalBatches?: number;
  warmup?: number;
  /** Global gradient-norm clip (0 = none). */
  clip?: number;
  checkpointEvery?: number;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  maxMemoryMB?: number;
  threads?: number;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  valLoss: number | null;
  tokensPerSec: number;
  etaSec: number;
  lr: number;
}

export type TrainStatus = 'done' | 'stopped' | 'diverged' | 'memory';

export interface TrainResult {
  status: TrainStatus;
  step: number;
  loss: number | null;
  valLoss: number | null;
  out: string;
  exported: boolean;
  message: string;
  /** Training ran but went wrong: the loss ended far above where it started. */
  warning?: string;
}

/** A run whose last losses average more than this times its first loss blew up (its learning rate was too high). */
export const BLOW_UP_RATIO = 1.5;

/** The warning for a run whose loss ended far above where it started, if it did. */
export function blowUpWarning(losses: number[], lr: number): string | undefined {
  if (losses.length < 2) return undefined;
  const tail = losses.slice(-Math.max(1, Math.min(10, Math.ceil(losses.length / 10))));
  const end = tail.reduce((a, b) => a + b, 0) / tail.length;
  if (!(end > BLOW_UP_RATIO * losses[0])) return undefined;
  return `The loss ended at ${end.toFixed(2)}, far above where it started (${losses[0].toFixed(2)}): training blew up. ` +
    `Try a lower learning rate (now ${lr}).`;
}

export class Trainer {
  private stopRequested = false;
  private pauseGate: { promise: Promise<void>; open: () => void; reached: () => void } | null = null;
  private step = 0;
  private readonly rng: Rng;
  /** BOS/EOS of the model fine-tuned, carried into the exported folder. */
  private specialTokens?: SpecialTokens;

  private constructor(readonly opts: TrainOptions, readonly config: DecoderConfig, private readonly tokenizer: TokenizerFiles,
    private readonly train: Int32Array, private readonly val: Int32Array, private readonly stepper: TrainStep,
    readonly batch: number, readonly block: number, private readonly lora: LoraSpec | undefined,
    private readonly frozen: Map<string, Float32Array>, readonly notes: string[]) {
    this.rng = new Rng(opts.seed ?? 1337);
  }

  static async create(opts: TrainOptions): Promise<Trainer> {
    const notes: string[] = [];
    if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new DataError('steps must be an integer >= 0');
    const file = readTextFile(opts.file);
    if (file.note) notes.push(file.note);
    const seed = opts.seed ?? 1337;
    const ckptPath = join(opts.out, CHECKPOINT_FILE);
    const ckpt = opts.resume ? await loadCheckpoint(ckptPath).catch((e) => {
      throw new DataError(`Cannot resume: ${existsSync(ckptPath) ? (e as Error).message : `no checkpoint at ${ckptPath}`}`);
    }) : null;

    let config: DecoderConfig, tokenizer: TokenizerFiles, ids: Int32Array, base: Weights | null = null;
    let specialTokens: SpecialTokens | undefined = ckpt?.meta.specialTokens;
    if (ckpt) {
      config = ckpt.meta.config;
      tokenizer = ckpt.meta.tokenizer;
      if (isCharTokenizer(tokenizer)) {
        const enc = encodeChars(file.text);
        if (JSON.stringify(enc.tokenizer) !== JSON.stringify(tokenizer)) {
          throw new DataError(`${opts.file} has other characters than when the checkpoint was made: cannot resume on it.`);
        }
        ids = enc.ids;
      } else {
        ids = encodeWithTokenizer(file.text, tokenizer, config.vocab_size).ids;
      }
    } else if (opts.from) {
      config = readModelFolderConfig(opts.from);
      specialTokens = readModelFolderSpecialTokens(opts.from);
      base = readModelFolderWeights(opts.from, config);
      tokenizer = {
        tokenizer: JSON.parse(readFileSync(join(opts.from, 'tokenizer.json'), 'utf8')),
        tokenizerConfig: JSON.parse(readFileSync(join(opts.from, 'tokenizer_config.json'), 'utf8')),
      };
      ids = encodeWithTokenizer(file.text, tokenizer, config.vocab_size).ids;
    } else {
      const enc = encodeChars(file.text);
      config = presetConfig(opts.preset ?? 'toy', enc.vocabSize);
      ({ tokenizer, ids } = enc);
      base = randomWeights(config, seed);
    }
    if (ids.length < 2) throw new DataError(`${opts.file} is too short: it has ${ids.length} token(s), training needs at least 2.`);

    const preset = TRAINING_PRESETS[opts.preset ?? 'toy'];
    const fromScratch = !opts.from && !ckpt?.meta.lora;
    let block = ckpt?.meta.block ?? opts.block ?? (fromScratch ? preset.block_size : 128);
    block = Math.min(block, config.block_size, ids.length - 1);
    const batch = ckpt?.meta.batch ?? opts.batch ?? (fromScratch ? preset.batch_size : 8);
    const splits = splitTokens(ids, block);
    if (splits.note) notes.push(splits.note);

    const rank = ckpt?.meta.lora?.rank ?? opts.lora ?? 0;
    if (rank > 0 && !opts.from && !ckpt) throw new DataError('LoRA adapts an existing model: give --from DIR with --lora.');
    const lora: LoraSpec | undefined = ckpt?.meta.lora ?? (rank > 0 ? { rank, alpha: opts.loraAlpha ?? rank } : undefined);
    const toArrays = (w: Weights) => new Map([...w].map(([k, v]) => [k, Float32Array.from(v.data)]));
    let params: Map<string, Float32Array>, frozen: Map<string, Float32Array>;
    if (ckpt) {
      params = ckpt.params;
      frozen = ckpt.frozen;
    } else if (lora) {
      params = toArrays(initLora(config, lora, seed));
      frozen = toArrays(base!);
    } else {
      params = toArrays(base!);
      frozen = new Map();
    }

    const capMB = opts.maxMemoryMB ?? 4096;
    const needMB = estimateMemoryMB(config, batch, block, params, frozen);
    if (needMB > capMB) {
      throw new DataError(`Training this model with batch ${batch} x block ${block} needs about ${needMB} MB, more than the ` +
        `${capMB} MB cap: use a smaller --batch or --block.`);
    }
    const optim: OptimConfig = ckpt?.meta.optim ?? (opts.optimizer === 'sgd' ? sgdDefaults(opts.lr ?? 1e-2) : adamwDefaults(opts.lr ?? 1e-3));
    if (opts.lr !== undefined) optim.lr = opts.lr;
    const stepper = await TrainStep.create({ config, batch, block, params, frozen, lora, optim, threads: opts.threads ?? 2 });
    const t = new Trainer(opts, config, tokenizer, splits.train, splits.val, stepper, batch, block, lora, frozen, notes);
    t.specialTokens = specialTokens;
    if (ckpt) {
      t.step = ckpt.meta.step;
      t.rng.state = ckpt.meta.rngState;
      stepper.state.step = ckpt.meta.optimStep;
      // Into the moments in place: they may live in the optimizer's SIMD memory (adamwSimd.ts).
      for (const [k, v] of ckpt.slots) {
        const into = stepper.state.slots.get(k);
        if (into && into.length === v.length && into.every((a, i) => a.length === v[i].length)) into.forEach((a, i) => a.set(v[i]));
        else stepper.state.slots.set(k, v);
      }
      notes.push(`Resumed at step ${t.step}.`);
    }
    return t;
  }

  get currentStep(): number { return this.step; }

  stop(): void { this.stopRequested = true; this.resume(); }

  /** Pauses before the next step; resolves once the step in flight has finished and the loop waits. */
  pause(): Promise<void> {
    if (this.pauseGate) return this.pausedAt ?? Promise.resolve();
    let open!: () => void;
    let reached!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.pausedAt = new Promise<void>((r) => (reached = r));
    this.pauseGate = { promise, open, reached };
    return this.pausedAt;
  }

  private pausedAt: Promise<void> | null = null;

  resume(): void {
    const g = this.pauseGate;
    this.pauseGate = null;
    g?.open();
  }

  get paused(): boolean { return this.pauseGate !== null; }

  async run(onProgress?: (p: TrainProgress) => void): Promise<TrainResult> {
    const o = this.opts;
    const total = o.steps;
    const lr = this.stepper.setup.optim.lr;
    const schedule: Schedule = { lr, warmup: o.warmup ?? Math.min(100, Math.floor(total / 10)), total, minLr: lr / 10 };
    const evalEvery = o.evalEvery ?? Math.max(1, Math.min(100, Math.floor(total / 10)));
    const capBytes = (o.maxMemoryMB ?? 4096) * 1024 * 1024;
    let loss: number | null = null, valLoss: number | null = null;
    let status: TrainStatus = 'done', message = '';
    let elapsed = 0, timed = 0, tokensPerSec = 0;
    const lastFinite = new LastFinite();
    const losses: number[] = [];
    while (this.step < total) {
      if (this.pauseGate) {
        this.pauseGate.reached();
        await this.pauseGate.promise;
      }
      if (this.stopRequested) { status = 'stopped'; message = `Stopped at step ${this.step}.`; break; }
      const t0 = performance.now();
      const state = { step: this.step, rngState: this.rng.state, params: this.stepper.setup.params, optim: this.stepper.state };
      const { idx, targets } = getBatch(this.train, this.batch, this.block, this.rng);
      const rate = lrAt(schedule, this.step);
      const r = await this.stepper.step(idx, targets, rate, o.clip ?? 1, () => lastFinite.keep(state));
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        status = 'diverged';
        message = `The ${Number.isFinite(r.loss) ? `gradient became ${r.gradNorm}` : `loss became ${r.loss}`} at step ` +
          `${this.step + 1}: training stopped. Try a lower learning rate (now ${rate.toPrecision(3)}).`;
        // The weights that gave a non-finite loss are blown up: go back to the last ones whose loss was finite.
        if (!Number.isFinite(r.loss) && lastFinite.restore(state) !== null) {
          this.step = state.step;
          this.rng.state = state.rngState;
          message += ` The checkpoint keeps step ${this.step}, the last with a finite loss.`;
        }
        break;
      }
      loss = r.loss;
      losses.push(loss);
      this.step++;
      const stepMs = performance.now() - t0;
      tokensPerSec = Math.round((this.batch * this.block) / (stepMs / 1000));
      if (this.step % evalEvery === 0 || this.step === total) valLoss = await this.validate();
      elapsed += performance.now() - t0;
      timed++;
      onProgress?.({ step: this.step, steps: total, loss, valLoss, tokensPerSec, lr: rate,
        etaSec: ((elapsed / timed) * (total - this.step)) / 1000 });
      if (process.memoryUsage().rss > capBytes) {
        status = 'memory';
        message = `Memory use passed the ${o.maxMemoryMB ?? 4096} MB cap at step ${this.step}: training stopped.`;
        break;
      }
      if (o.checkpointEvery && this.step % o.checkpointEvery === 0) await this.saveCheckpoint();
    }
    await this.saveCheckpoint();
    // A run stopped before its first step has nothing new to write: its model would be the starting one.
    const exported = status === 'done' || (status === 'stopped' && this.step > 0);
    if (exported) await this.export(o.out);
    if (status === 'done') message = `Trained ${total} steps; model written to ${o.out}.`;
    else if (exported) message += ` Model so far written to ${o.out}.`;
    else if (status === 'stopped') message += ' Nothing was trained, so no model was written.';
    const warning = exported ? blowUpWarning(losses, lr) : undefined;
    return { status, step: this.step, loss, valLoss, out: o.out, exported, message, warning };
  }

  /** Mean loss over a fixed set of validation batches (the same ones every time, so values compare). */
  async validate(): Promise<number> {
    const rng = new Rng((this.opts.seed ?? 1337) + 1);
    const n = this.opts.evalBatches ?? 4;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const { idx, targets } = getBatch(this.val, this.batch, this.block, rng);
      sum += await this.stepper.evaluate(idx, targets);
    }
    return sum / n;
  }

  /** The model as trained so far, with LoRA adapters merged into its weights. */
  weights(): Weights {
    const shapes = weightShapes(this.config);
    const asWeights = (m: Map<string, Float32Array>, shapeOf: (k: string) => number[]): Weights =>
      new Map([...m].map(([k, data]) => [k, { data, shape: shapeOf(k) }]));
    if (!this.lora) return asWeights(this.stepper.setup.params, (k) => shapes.get(k)!);
    const adapters = asWeights(this.stepper.setup.params, (k) => {
      const [fin, fout] = shapes.get(k.replace(/\.lora_[AB]$/, ''))!;
      return k.endsWith('lora_A') ? [fin, this.lora!.rank] : [this.lora!.rank, fout];
    });
    return mergeLora(asWeights(this.frozen, (k) => shapes.get(k)!), adapters, this.lora);
  }

  async export(out: string): Promise<void> {
    await writeModelFolder(out, { config: this.config, weights: this.weights(), tokenizer: this.tokenizer, attentionOutputs: true,
      specialTokens: this.specialTokens,
      description: `# Trained with Token Lens\n\nTrained for ${this.step} steps on \`${this.opts.file}\`` +
        `${this.opts.from ? ` starting from \`${this.opts.from}\`` : ''}${this.lora ? ` with LoRA rank ${this.lora.rank}` : ''}.` });
  }

  async saveCheckpoint(): Promise<void> {
    await mkdir(this.opts.out, { recursive: true });
    const s = this.stepper;
    await saveCheckpoint(join(this.opts.out, CHECKPOINT_FILE), {
      meta: { version: 2, config: this.config, tokenizer: this.tokenizer, specialTokens: this.specialTokens, lora: this.lora,
        optim: s.setup.optim, step: this.step, optimStep: s.state.step, rngState: this.rng.state, batch: this.batch, block: this.block },
      params: s.setup.params, slots: s.state.slots, frozen: this.frozen,
    });
  }

  async dispose(): Promise<void> { await this.stepper.dispose(); }
}

function isCharTokenizer(t: TokenizerFiles): boolean {
  const m = t.tokenizer.model as { merges?: unknown[] } | undefined;
  return !t.tokenizer.normalizer && Array.isArray(m?.merges) && m!.merges!.length === 0;
}

/** Rough peak memory: weights, gradients and optimizer moments, plus activations kept for the backward. */
export function estimateMemoryMB(c: DecoderConfig, B: number, T: number, params: Map<string, Float32Array>,
  frozen: Map<string, Float32Array>): number {
  const count = (m: Map<string, Float32Array>) => [...m.values()].reduce((n, a) => n + a.length, 0);
  const C = c.n_embd, H = c.n_head, L = c.n_layer;
  // Korthikanti et al. 2022: about 34*C + 5*H*T values per token per layer, doubled for backward temporaries.
  const activations = 2 * L * B * T * (34 * C + 5 * H * T) + 4 * B * T * c.vocab_size;
  // Trained weights: themselves, gradients, two moments, feeds, and weights + moments of the last finite step.
  const floats = 8 * count(params) + 2 * count(frozen) + activations;
  return Math.ceil((floats * 4) / 1024 / 1024) + 200;
}
