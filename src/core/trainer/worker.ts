// Entry point of the training worker thread (bundled as dist/trainerWorker.js): runs one job, reports progress.
import { isMainThread, parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './client';
import { Trainer } from './trainer';

export { TrainerClient } from './client';
export type { FromWorker, ToWorker, TrainerEvents } from './client';

function serve(): void {
  const port = parentPort!;
  let trainer: Trainer | null = null;
  let early: ToWorker['type'][] = [];
  const post = (m: FromWorker) => port.postMessage(m);
  const control = (type: ToWorker['type']) => {
    if (!trainer) { early.push(type); return; }
    if (type === 'stop') trainer.stop();
    else if (type === 'pause') void trainer.pause().then(() => post({ type: 'paused' }));
    else if (type === 'resume') { trainer.resume(); post({ type: 'resumed' }); }
  };
  port.on('message', async (m: ToWorker) => {
    if (m.type !== 'start') return control(m.type);
    if (trainer) return post({ type: 'error', message: 'A training job is already running in this worker.' });
    try {
      trainer = await Trainer.create(m.options);
      post({ type: 'started', notes: trainer.notes, batch: trainer.batch, block: trainer.block });
      // Controls that arrived while the model was loading apply now.
      for (const type of early) control(type);
      early = [];
      const result = await trainer.run((progress) => post({ type: 'progress', progress }));
      await trainer.dispose();
      post({ type: 'done', result });
    } catch (e) {
      post({ type: 'error', message: (e as Error).message });
    }
  });
}

if (!isMainThread && parentPort) serve();
