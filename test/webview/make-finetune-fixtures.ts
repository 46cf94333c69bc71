// Records the messages of a real Toy Fine-tune run (stories260K, one sentence, 30 steps) for the browser test.
// Run: node --import tsx test/webview/make-finetune-fixtures.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { TRAINING_PRESETS } from '../../src/core/trainer/presets';
import { FineTuneJob } from '../../src/extension/fineTuneJob';
import { defaultSettings, ftMessage, type FineTuneHostToView } from '../../src/protocol/finetune';

const shared = join(__dirname, '../../vendor/stories260K');
const workerEntry = resolve(__dirname, '../../src/core/trainer/worker.ts');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ft-fixture-'));
  try {
    const base = join(dir, 'stories260K');
    await importLlama2c({ checkpoint: join(shared, 'stories260K.bin'), tokenizer: join(shared, 'tok512.bin'), out: base });
    const file = join(dir, 'zoo.txt');
    writeFileSync(file, 'Once upon a time, there was a little girl named Zoo.\n');
    const settings = { ...defaultSettings('current'), steps: 30 };
    const run: FineTuneHostToView[] = [ftMessage('runStarting', { settings, fileName: 'zoo.txt', steps: settings.steps })];
    const job = new FineTuneJob({ file, out: join(dir, 'out'), from: base, settings, cacheDir: join(dir, 'cache'), threads: 1,
      createWorker: () => new Worker(`require('tsx/cjs'); require(${JSON.stringify(workerEntry)});`, { eval: true }) },
    (m) => run.push(m));
    await job.done;
    const context = ftMessage('context', {
      file: { path: '/work/stories/zoo.txt', name: 'zoo.txt' },
      current: { ref: '/models/stories260K', usable: true }, folder: null,
      presets: Object.entries(TRAINING_PRESETS).map(([name, p]) => ({ name, layers: p.n_layer, heads: p.n_head, embd: p.n_embd, block: p.block_size, batch: p.batch_size })),
    });
    // Paths of the temporary folders say nothing the test needs.
    const json = JSON.stringify({ context, run }, null, 1).split(dir).join('/tmp/run');
    writeFileSync(join(__dirname, 'fixtures', 'finetune.json'), json);
    console.log(`recorded ${run.length} messages`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
