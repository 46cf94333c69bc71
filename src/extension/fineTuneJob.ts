// One Toy Fine-tune run, without VS Code: probe the starting model, train in the worker thread, probe the
// result. Everything it learns goes out as view messages, so the host only forwards them.
import { existsSync, readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { LLAMA_CPP_MISSING } from '../core/engines/engine';
import { OLLAMA_PREFIX } from '../core/engines/llama/modelStores';
import { CHECKPOINT_FILE } from '../core/trainer/checkpoint';
import { TrainerClient, type TrainerEvents } from '../core/trainer/client';
import { readTextFile } from '../core/trainer/textFile';
import { CHAR_UNK, unknownChars } from '../core/tokenizers/chars';
import type { TrainOptions, TrainResult } from '../core/trainer/trainer';
import { compareBeforeAfter } from './fineTuneCompare';
import { ftMessage, probeFrom, probeFromText, type FineTuneHostToView, type FineTuneSettings, type ProbeResult, type RunResult } from '../protocol/finetune';

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
  // A GGUF model runs on llama.cpp, which has no training: say that rather than "not a folder".
  if (/\.gguf$/i.test(folder) || folder.startsWith(OLLAMA_PREFIX)) return `${LLAMA_CPP_MISSING.training}: fine-tuning starts from a Token Lens model folder.`;
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

/** The result of a run stopped before its first training step: nothing was trained and nothing is offered. */
export function stoppedBeforeTraining(): RunResult {
  return { status: 'stopped', message: 'Stopped before training started: nothing was trained.', step: 0, loss: null, valLoss: null, exported: false };
}

export class FineTuneJob {
  private client?: TrainerClient;
  /** The client is the zero-step start of a preset: stopping it throws away only random weights, so it is ended at once. */
  private initialising = false;
  private stopped = false;
  private pausedNow = false;
  /** Settles after the run's last message (`finished`, or `failed` and null). */
  readonly done: Promise<RunResult | null>;

  constructor(readonly spec: JobSpec, private readonly post: (m: FineTuneHostToView) => void) {
    this.done = this.run().then((result) => {
      this.post(ftMessage('finished', { result }));
      return result;
    }, (e) => {
      this.post(ftMessage('failed', { message: e instanceof Error ? e.message : String(e) }));
      return null;
    });
  }

  stop(): void {
    this.stopped = true;
    this.post(ftMessage('stopping', {}));
    if (this.initialising) void this.client?.kill();
    else this.client?.stop();
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

  private async run(): Promise<RunResult> {
    const { spec } = this;
    const s = spec.settings;
    // A preset starts from random weights that exist only inside the trainer: zero steps export them.
    const start = spec.from ?? `${spec.out}-start`;
    // A preset's starting weights live only until the run has compared them with the trained ones.
    try {
      return await this.trainAndProbe(start);
    } finally {
      if (!spec.from) await rm(start, { recursive: true, force: true });
    }
  }

  private async trainAndProbe(start: string): Promise<RunResult> {
    const { spec } = this;
    const s = spec.settings;
    if (!spec.from) {
      this.post(ftMessage('busy', { message: 'Initialising the model…' }));
      if (this.stopped) return stoppedBeforeTraining();
      this.initialising = true;
      // Stop ends this worker at once; its refusal to finish is then no failure.
      await this.train(trainOptions(spec, start, 0), false).catch((e) => { if (!this.stopped) throw e; });
      this.initialising = false;
    }
    if (this.stopped) return stoppedBeforeTraining();
    this.post(ftMessage('busy', { message: 'Probing the starting model…' }));
    this.post(ftMessage('probe', { phase: 'before', probe: await probe(start, s, spec.cacheDir) }));
    if (this.stopped) return stoppedBeforeTraining();
    this.post(ftMessage('busy', { message: 'Starting the trainer…' }));
    const result = await this.train(trainOptions(spec), true);
    if (result.exported) {
      this.post(ftMessage('probing', { message: 'Probing the trained model…' }));
      this.post(ftMessage('probe', { phase: 'after', probe: await probe(spec.out, s, spec.cacheDir) }));
      this.post(ftMessage('probing', { message: 'Comparing before and after…' }));
      this.post(ftMessage('comparison', await compareBeforeAfter(start, spec.out, s.prompt + s.target, spec.file, spec.cacheDir)));
    }
    return result;
  }

  private async train(options: TrainOptions, report: boolean): Promise<RunResult> {
    const client = new TrainerClient(options, report ? trainerEvents(this.post) : {}, this.spec.createWorker);
    this.client = client;
    // Controls pressed while the zero-step start or the probe ran apply now.
    if (this.stopped) {
      if (report) client.stop();
      else void client.kill();
    } else if (report && this.pausedNow) client.pause();
    return runResultOf(await client.result);
  }
}

/** The trainer's events as view messages. */
export function trainerEvents(post: (m: FineTuneHostToView) => void): TrainerEvents {
  return {
    onStarted: (i) => post(ftMessage('started', { batch: i.batch, block: i.block, notes: i.notes })),
    onProgress: (p) => post(ftMessage('progress', { ...p })),
    onPaused: () => post(ftMessage('paused', {})),
    onResumed: () => post(ftMessage('resumed', {})),
  };
}

/** The trainer's result as the view sees it (the output folder stays with the host). */
export function runResultOf(r: TrainResult): RunResult {
  return { status: r.status, message: r.message, step: r.step, loss: r.loss, valLoss: r.valLoss, exported: r.exported,
    ...(r.warning ? { warning: r.warning } : {}) };
}

/** The probe at the model in `folder`: one analysis of prompt + target. */
export async function probe(folder: string, s: Pick<FineTuneSettings, 'prompt' | 'target'>, cacheDir: string): Promise<ProbeResult> {
  const { ModelSession } = await import('../core/runtime/session');
  const session = await ModelSession.load(folder, { cacheDir, offline: true });
  try {
    const a = await session.analyze(s.prompt + s.target);
    // A character model trained from scratch knows only the file's characters: the others all read as <unk>.
    const unknown = unknownChars(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')), s.prompt + s.target);
    return probeFrom(folder, s.prompt, s.target, a, 5, unknown && { ...unknown, text: CHAR_UNK });
  } finally {
    await session.dispose();
  }
}

/** Copies the exported model (without the trainer's checkpoint) to `dest`. */
export async function saveModel(out: string, dest: string): Promise<void> {
  // The checkpoint stays with the run: a saved model is the exported folder alone.
  await cp(out, dest, { recursive: true, filter: (src) => !src.endsWith(CHECKPOINT_FILE) });
}

/**
 * Why a file cannot be trained on (binary, empty, too short, not UTF-8, missing), checked before a worker starts;
 * without a problem, a probe taken from its text.
 */
export function inspectFile(file: string): { problem?: string; probe: { prompt: string; target: string } | null } {
  try {
    // Reading the first MB (sampled beyond) is enough to refuse binaries and empty files.
    const { text } = readTextFile(file, 1024 * 1024);
    // Training predicts each token from the ones before it: one character leaves nothing to predict.
    if (Array.from(text.slice(0, 4)).length < 2) return { problem: `${file} has only one character: training needs at least two.`, probe: null };
    return { probe: probeFromText(text) };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e), probe: null };
  }
}
