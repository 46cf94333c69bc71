// Imports in a worker thread, as the editor runs them: progress, errors, and cancellation that leaves
// nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { runImportJob } from '../../src/core/importers/importJob';

const FIX = join(__dirname, '..', 'fixtures', 'import');
const entry = resolve(__dirname, '../../src/core/importers/importWorker.ts');
// The worker runs the TypeScript entry through tsx, as the bundle runs dist/importWorker.js.
const createWorker = (workerData: unknown) =>
  new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true, workerData });

test('a failing import reports the reason from the worker and leaves nothing in the output folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-job-'));
  try {
    const progress: string[] = [];
    await assert.rejects(runImportJob({ from: join(FIX, 'bad', 'runs-code.pt'), out: join(dir, 'out') },
      { onProgress: (m) => progress.push(m) }, createWorker), /never runs code from a pickle/);
    assert.ok(progress.some((m) => m.startsWith('Reading ')), JSON.stringify(progress));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancelling stops the worker and removes what it wrote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-job-'));
  try {
    cpSync(join(FIX, 'gpt_neox'), join(dir, 'src'), { recursive: true });
    const abort = new AbortController();
    const job = runImportJob({ from: join(dir, 'src'), out: join(dir, 'out') }, { signal: abort.signal, onProgress: () => abort.abort() }, createWorker);
    await assert.rejects(job, { name: 'ImportCancelled' });
    assert.deepEqual(readdirSync(dir), ['src']);
    assert.ok(!existsSync(join(dir, 'out')));
    // Already cancelled: no worker at all.
    await assert.rejects(runImportJob({ from: join(dir, 'src'), out: join(dir, 'out') }, { signal: abort.signal }, createWorker), { name: 'ImportCancelled' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
