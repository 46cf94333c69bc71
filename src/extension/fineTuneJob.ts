// One Toy Fine-tune run, without VS Code: probe the starting model, train in the worker thread, probe the
// result. Everything it learns goes out as view messages, so the host only forwards them.
import { existsSync, readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CHECKPOINT_FILE } from '../core/trainer/checkpoint';
import { TrainerClient } from '../core/trainer/client';
import { readTextFile } from '../core/trainer/textFile';
import type { TrainOptions } from '../core/trainer/trainer';
import { ftMessage, probeFrom, type FineTuneHostToView, type FineTuneSettings, type ProbeResult, type RunResult } from '../protocol/finetune';

export interface JobSpec {
  file: string;
  /** Where the trainer writes its checkpoint and the exported model. */
  out: string;
  /** A model folder to fine-tune; absent: settings.base names a preset trained from scratch. */
  from?: string;
  settings: FineTuneSettings;
  /** ModelSession cache (prepared model copies). */
  cacheDir: string;
  /** Starts the training worker; default: dist/trainerWorker.js beside the bundle. */
  createWorker?: () => Worker;
  threads?: number;
}

/** A folder written by Token Lens (config.json carries `token_lens`): one the trainer can read weights from. */
export function tokenLensFolderProblem(folder: string): string | undefined {
  const config = join(folder, 'config.json');
  if (!existsSync(config)) return `${folder} is not a model folder (no config.json).`;
  try {
    if (!JSON.parse(readFileSync(config, 'utf8')).token_lens) {
      return `${folder} was not written by Token Lens: fine-tuning reads weights only from Token Lens model folders (import or train one).`;
    }
  } catch {
    return `${folder}/config.json is not valid JSON.`;
  }
  if (!existsSync(join(folder, 'onnx', 'model.onnx'))) return `${folder} has no onnx/model.onnx.`;
  return undefined;
}

export function trainOptions(spec: JobSpec, out = spec.out, steps = spec.settings.steps): TrainOptions {
  const s = spec.settings;
  return {
    file: spec.file, out, steps, lr: s.lr, optimizer: s.optimizer, seed: s.seed, threads: spec.threads,
    ...(spec.from ? { from: spec.from, lora: s.mode === 'lora' ? s.loraRank : 0 } : { preset: s.base }),
    checkpointEvery: 0,
  };
}

export class FineTuneJob {
  private client?: TrainerClient;
  private stopped = false;
  private pausedNow = false;
  readonly done: Promise<RunResult | null>;

  constructor(readonly spec: JobSpec, private readonly post: (m: FineTuneHostToView) => void) {
    this.done = this.run().catch((e) => {
      this.post(ftMessage('failed', { message: e instanceof Error ? e.message : String(e) }));
      return null;
    });
  }

  stop(): void {
    this.stopped = true;
    this.post(ftMessage('stopping', {}));
    this.client?.stop();
  }

  pause(): void {
    this.pausedNow = true;
    this.client?.pause();
  }

  resume(): void {
    this.pausedNow = false;
    this.client?.resume();
  }

  /** Ends the worker at once (the view was closed for good or the extension deactivates). */
  async kill(): Promise<void> {
    this.stopped = true;
    await this.client?.kill();
  }

  private async run(): Promise<RunResult | null> {
    const { spec } = this;
    const s = spec.settings;
    // A preset starts from random weights that exist only inside the trainer: zero steps export them.
    let start = spec.from;
    if (!start) {
      start = `${spec.out}-start`;
      this.post(ftMessage('busy', { message: 'Initialising the model…' }));
      await this.train(trainOptions(spec, start, 0), false);
    }
    if (this.stopped) return null;
    this.post(ftMessage('busy', { message: 'Probing the starting model…' }));
    this.post(ftMessage('probe', { phase: 'before', probe: await probe(start, s, spec.cacheDir) }));
    if (!spec.from) await rm(start, { recursive: true, force: true });
    if (this.stopped) return null;
    this.post(ftMessage('busy', { message: 'Starting the trainer…' }));
    const result = await this.train(trainOptions(spec), true);
    if (result.exported) {
      this.post(ftMessage('probing', { message: 'Probing the trained model…' }));
      this.post(ftMessage('probe', { phase: 'after', probe: await probe(spec.out, s, spec.cacheDir) }));
    }
    this.post(ftMessage('finished', { result }));
    return result;
  }

  private async train(options: TrainOptions, report: boolean): Promise<RunResult> {
    const client = new TrainerClient(options, report ? {
      onStarted: (i) => this.post(ftMessage('started', { batch: i.batch, block: i.block, notes: i.notes })),
      onProgress: (p) => this.post(ftMessage('progress', { ...p })),
      onPaused: () => this.post(ftMessage('paused', {})),
      onResumed: () => this.post(ftMessage('resumed', {})),
    } : {}, this.spec.createWorker);
    if (report) {
      this.client = client;
      // Controls pressed while the zero-step start or the probe ran apply now.
      if (this.stopped) client.stop();
      else if (this.pausedNow) client.pause();
    }
    const r = await client.result;
    return { status: r.status, message: r.message, step: r.step, loss: r.loss, valLoss: r.valLoss, exported: r.exported };
  }
}

/** The probe at the model in `folder`: one analysis of prompt + target. */
export async function probe(folder: string, s: Pick<FineTuneSettings, 'prompt' | 'target'>, cacheDir: string): Promise<ProbeResult> {
  const { ModelSession } = await import('../core/runtime/session');
  const session = await ModelSession.load(folder, { cacheDir, offline: true });
  try {
    const a = await session.analyze(s.prompt + s.target);
    return probeFrom(folder, s.prompt, s.target, a);
  } finally {
    await session.dispose();
  }
}

/** Copies the exported model (without the trainer's checkpoint) to `dest`. */
export async function saveModel(out: string, dest: string): Promise<void> {
  // The checkpoint stays with the run: a saved model is the exported folder alone.
  await cp(out, dest, { recursive: true, filter: (src) => !src.endsWith(CHECKPOINT_FILE) });
}

/** Why a file cannot be trained on (binary, empty, not UTF-8, missing), checked before a worker starts. */
export function fileProblem(file: string): string | undefined {
  try {
    // Reading the first MB (sampled beyond) is enough to refuse binaries and empty files.
    readTextFile(file, 1024 * 1024);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
