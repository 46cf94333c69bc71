// Entry point of the import worker thread (bundled as dist/importWorker.js): one import, progress out.
// Reading and converting a checkpoint is synchronous work; in a worker it never blocks the editor.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { importCheckpoint, type ImportOptions } from './importCheckpoint';
import type { FromImportWorker } from './importJob';

async function run(): Promise<void> {
  const post = (m: FromImportWorker) => parentPort!.postMessage(m);
  try {
    const result = await importCheckpoint({
      ...(workerData as Omit<ImportOptions, 'onProgress' | 'signal'>),
      onProgress: (p) => post({ type: 'progress', message: p.message ?? '' }),
    });
    post({ type: 'done', result });
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
}

if (!isMainThread && parentPort) void run();
