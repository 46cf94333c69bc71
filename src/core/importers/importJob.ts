// An import run in a worker thread (importWorker.ts, bundled as dist/importWorker.js), as the editor runs
// it: progress messages, and cancellation that stops the worker at once and removes what it had written.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImportOptions, ImportResult } from './importCheckpoint';
import { ImportCancelled, stagingDirFor } from './staging';

export type FromImportWorker =
  | { type: 'progress'; message: string }
  | { type: 'done'; result: ImportResult }
  | { type: 'error'; message: string };

export type WorkerFactory = (workerData: unknown) => Worker;

const bundledWorker: WorkerFactory = (workerData) => new Worker(join(__dirname, 'importWorker.js'), { workerData });

export function runImportJob(
  opts: Pick<ImportOptions, 'from' | 'out' | 'tokenizer'>,
  events: { onProgress?: (message: string) => void; signal?: AbortSignal } = {},
  createWorker: WorkerFactory = bundledWorker,
): Promise<ImportResult> {
  // The staging folder is named here, so that a worker stopped mid-write leaves nothing behind.
  const stagingDir = stagingDirFor(opts.out);
  // A cancel that lands just as the worker renames its folder into place must still leave nothing new.
  const outIsNew = !existsSync(opts.out);
  return new Promise<ImportResult>((resolve, reject) => {
    if (events.signal?.aborted) return reject(new ImportCancelled());
    const worker = createWorker({ ...opts, stagingDir });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      events.signal?.removeEventListener('abort', cancel);
      void worker.terminate().finally(() => {
        rmSync(stagingDir, { recursive: true, force: true });
        fn();
      });
    };
    const cancel = () => finish(() => {
      if (outIsNew) rmSync(opts.out, { recursive: true, force: true });
      reject(new ImportCancelled());
    });
    events.signal?.addEventListener('abort', cancel);
    worker.on('message', (m: FromImportWorker) => {
      if (m.type === 'progress') events.onProgress?.(m.message);
      else if (m.type === 'done') finish(() => resolve(m.result));
      else finish(() => reject(new Error(m.message)));
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`The import worker stopped (code ${code}) before finishing.`))));
  });
}
