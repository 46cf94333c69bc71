// The caller's side of the lens worker (lensWorker.ts): each lens job (gradient attribution, the logit lens's
// head) runs in a worker thread of its own, since onnxruntime-node runs a session synchronously underneath
// its promise: on the extension host's thread a long job would freeze the editor. Cancel ends the thread.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AnalysisCancelled } from '../runtime/analysisErrors';
import type { Objective } from './embeddingGradient';

export type LensJob =
  | { type: 'attribution'; folder: string; ids: number[]; objective: Objective; method: 'gradient' | 'integrated-gradients'; steps: number }
  | { type: 'logitLens'; folder: string; headFile?: string; hidden: Float32Array; rows: number; width: number; vocab: number; k: number };

export type FromLensWorker =
  | { type: 'progress'; done: number; total: number }
  | { type: 'result'; result: unknown }
  | { type: 'error'; message: string };

/** The worker script: the bundle next to this one (dist/), or the source when running under tsx. */
function startWorker(): Worker {
  if (__filename.endsWith('.ts')) {
    const entry = join(__dirname, 'lensWorker.ts');
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true });
  }
  return new Worker(join(__dirname, 'lensWorker.js'));
}

/**
 * One finished worker is kept for the next job (it keeps the model it read): repeated lenses on one model skip
 * starting onnxruntime and reading the weights. Unreferenced while idle, so it never keeps a process alive.
 */
let idle: Worker | undefined;

function takeWorker(): Worker {
  const reused = idle;
  idle = undefined;
  if (reused) {
    reused.ref();
    return reused;
  }
  const w = startWorker();
  // A worker that dies while idle is simply not reused.
  w.once('exit', () => { if (idle === w) idle = undefined; });
  return w;
}

function release(w: Worker): void {
  if (idle) return void w.terminate();
  w.unref();
  idle = w;
}

/** Runs one job in a worker thread; the signal terminates that thread. */
export function runLensJob<T>(job: LensJob, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<T> {
  if (opts.signal?.aborted) return Promise.reject(new AnalysisCancelled());
  const worker = takeWorker();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onMessage = (m: FromLensWorker) => {
      if (m.type === 'progress') opts.onProgress?.(m.done, m.total);
      else if (m.type === 'result') finish(() => resolve(m.result as T), true);
      else finish(() => reject(new Error(m.message)), true);
    };
    const onError = (e: Error) => finish(() => reject(e), false);
    const onExit = (code: number) => finish(() => reject(new Error(`The lens worker thread exited (code ${code}).`)), false);
    // Only this job's listeners come off: the worker's own (which start its message port) stay.
    const finish = (f: () => void, reuse: boolean) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (reuse) release(worker);
      else void worker.terminate();
      f();
    };
    const abort = () => finish(() => reject(new AnalysisCancelled()), false);
    opts.signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    // The hidden states are handed over, not copied: the caller made them for this job.
    worker.postMessage(job, job.type === 'logitLens' ? [job.hidden.buffer as ArrayBuffer] : []);
  });
}
