// Entry point of the lens worker thread (bundled as dist/lensWorker.js): reads the model Token Lens wrote from
// its folder and runs one lens job on onnxruntime here, off the caller's thread.
import { parentPort } from 'node:worker_threads';
import { gradientScores } from './gradientScores';
import type { FromLensWorker, LensJob } from './lensThread';
import { decodeHidden } from './logitLensHead';
import { readProjectModel } from './projectModel';

const port = parentPort!;
const post = (m: FromLensWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const progress = (done: number, total: number) => post({ type: 'progress', done, total });

port.on('message', async (job: LensJob) => {
  try {
    if (job.type === 'attribution') {
      const model = readProjectModel(job.folder);
      post({ type: 'result', result: await gradientScores(model, job.ids, job.objective, job.method, job.steps, { onProgress: progress }) });
    } else {
      // A foreign export's own head (cut out by surgery), or the decoder's head rebuilt from the model Token Lens wrote.
      const head = job.headFile ? { file: job.headFile } : { model: readProjectModel(job.folder) };
      const d = await decodeHidden(head, job.hidden, job.rows, job.width, job.vocab, job.k, progress);
      post({ type: 'result', result: d }, [d.ids.buffer as ArrayBuffer, d.probs.buffer as ArrayBuffer]);
    }
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
