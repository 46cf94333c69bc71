// Records the messages of real Toy Fine-tune runs for the browser test: stories260K fine-tuned on one sentence
// (30 steps), a toy model whose loss blows up at lr 1, a NaN stop, and a run stopped while it initialised.
// Run: node --import tsx test/webview/make-finetune-fixtures.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { TrainerClient } from '../../src/core/trainer/client';
import { TRAINING_PRESETS } from '../../src/core/trainer/presets';
import { FineTuneJob, inspectFile, runResultOf, trainerEvents, type JobSpec } from '../../src/extension/fineTuneJob';
import { defaultSettings, ftMessage, type FineTuneHostToView, type FineTuneSettings } from '../../src/protocol/finetune';

const shared = join(__dirname, '../../vendor/stories260K');
const workerEntry = resolve(__dirname, '../../src/core/trainer/worker.ts');
const createWorker = () => new Worker(`require('tsx/cjs'); require(${JSON.stringify(workerEntry)});`, { eval: true });

/** The messages of one FineTuneJob, after the `runStarting` the host sends first. */
async function record(spec: Omit<JobSpec, 'cacheDir' | 'threads' | 'createWorker'>, dir: string, fileName: string,
  act: (m: FineTuneHostToView, job: () => FineTuneJob) => void = () => undefined): Promise<FineTuneHostToView[]> {
  const run: FineTuneHostToView[] = [ftMessage('runStarting', { settings: spec.settings, fileName, steps: spec.settings.steps })];
  let job: FineTuneJob | undefined;
  job = new FineTuneJob({ ...spec, cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => { run.push(m); act(m, () => job!); });
  await job.done;
  return run;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ft-fixture-'));
  try {
    const base = join(dir, 'stories260K');
    await importLlama2c({ checkpoint: join(shared, 'stories260K.bin'), tokenizer: join(shared, 'tok512.bin'), out: base });
    const file = join(dir, 'zoo.txt');
    writeFileSync(file, 'Once upon a time, there was a little girl named Zoo.\n');
    const run = await record({ file, out: join(dir, 'out'), from: base, settings: { ...defaultSettings('current'), steps: 30 } }, dir, 'zoo.txt');

    const rhyme = join(dir, 'rhyme.txt');
    writeFileSync(rhyme, 'Twinkle, twinkle, little star, how I wonder what you are!\n'.repeat(40));
    // The view sends the probe it took from the file.
    const probe = inspectFile(rhyme).probe!;
    const blowUp = await record({ file: rhyme, out: join(dir, 'blow-up'), settings: { ...defaultSettings('toy'), ...probe, steps: 60, lr: 1 } }, dir, 'rhyme.txt');
    const stoppedInit = await record({ file: rhyme, out: join(dir, 'stopped'), settings: { ...defaultSettings('toy'), ...probe, steps: 60 } }, dir, 'rhyme.txt',
      (m, job) => { if (m.type === 'busy' && m.message.startsWith('Initialising')) setTimeout(() => job().stop(), 30); });

    // The view cannot ask for a rate this high (nor turn clipping off): the trainer's own NaN stop, as the host forwards it.
    const settings: FineTuneSettings = { ...defaultSettings('toy'), ...probe, optimizer: 'sgd', lr: 1, steps: 30 };
    const diverged: FineTuneHostToView[] = [ftMessage('runStarting', { settings, fileName: 'rhyme.txt', steps: settings.steps })];
    const client = new TrainerClient({ file: rhyme, out: join(dir, 'nan'), preset: 'toy', steps: 30, lr: 1e6, optimizer: 'sgd', clip: 0, threads: 1 },
      trainerEvents((m) => diverged.push(m)), createWorker);
    diverged.push(ftMessage('finished', { result: runResultOf(await client.result) }));

    const context = ftMessage('context', {
      file: { path: '/work/stories/zoo.txt', name: 'zoo.txt' },
      current: { ref: '/models/stories260K', usable: true }, folder: null, probe: inspectFile(file).probe,
      presets: Object.entries(TRAINING_PRESETS).map(([name, p]) => ({ name, layers: p.n_layer, heads: p.n_head, embd: p.n_embd, block: p.block_size, batch: p.batch_size })),
    });
    // Paths of the temporary folders say nothing the test needs.
    const json = JSON.stringify({ context, run, blowUp, diverged, stoppedInit }, null, 1).split(dir).join('/tmp/run');
    writeFileSync(join(__dirname, 'fixtures', 'finetune.json'), json);
    console.log(`recorded ${run.length}, ${blowUp.length}, ${diverged.length} and ${stoppedInit.length} messages`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
