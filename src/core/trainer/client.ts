// The host side of training off the main thread: typed messages and the TrainerClient that the CLI and the
// extension use to drive a job in the worker (worker.ts, bundled as dist/trainerWorker.js).
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { TrainOptions, TrainProgress, TrainResult } from './trainer';

export type ToWorker =
  | { type: 'start'; options: TrainOptions }
  | { type: 'stop' } | { type: 'pause' } | { type: 'resume' };

export type FromWorker =
  | { type: 'started'; notes: string[]; batch: number; block: number }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'paused' } | { type: 'resumed' }
  | { type: 'done'; result: TrainResult }
  | { type: 'error'; message: string };

export interface TrainerEvents {
  onStarted?: (info: { notes: string[]; batch: number; block: number }) => void;
  onProgress?: (p: TrainProgress) => void;
  onPaused?: () => void;
  onResumed?: () => void;
}

/** Runs one training job in a worker thread. `result` settles when the job ends, fails, or the worker dies. */
export class TrainerClient {
  private readonly worker: Worker;
  readonly result: Promise<TrainResult>;

  /** The worker defaults to trainerWorker.js next to the running bundle (dist/). */
  constructor(options: TrainOptions, events: TrainerEvents = {},
    createWorker: () => Worker = () => new Worker(join(__dirname, 'trainerWorker.js'))) {
    this.worker = createWorker();
    this.result = new Promise<TrainResult>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'started') events.onStarted?.(m);
        else if (m.type === 'progress') events.onProgress?.(m.progress);
        else if (m.type === 'paused') events.onPaused?.();
        else if (m.type === 'resumed') events.onResumed?.();
        else if (m.type === 'done') resolve(m.result);
        else if (m.type === 'error') reject(new Error(m.message));
      });
      this.worker.on('error', reject);
      this.worker.on('exit', (code) => reject(new Error(`The training worker exited (code ${code}) before finishing.`)));
    });
    // Settle first, then let the worker go: a finished job leaves no thread behind.
    this.result.then(() => this.worker.terminate(), () => this.worker.terminate()).catch(() => undefined);
    this.send({ type: 'start', options });
  }

  private send(m: ToWorker): void { this.worker.postMessage(m); }

  stop(): void { this.send({ type: 'stop' }); }
  pause(): void { this.send({ type: 'pause' }); }
  resume(): void { this.send({ type: 'resume' }); }

  /** Ends the worker at once (the job's checkpoint is whatever was last saved). */
  async kill(): Promise<void> { await this.worker.terminate(); }
}

