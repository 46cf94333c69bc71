// The vendored stories260K, imported into a temporary folder and loaded, for tests that need the real model.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { ModelSession } from '../../src/core/runtime/session';

export const STORIES260K = join(__dirname, '..', '..', 'vendor', 'stories260K');

/** Imports stories260K under a new temporary folder and loads it; `close` disposes it and removes the folder. */
export async function loadStories260K(prefix: string): Promise<{ session: ModelSession; folder: string; close: () => Promise<void> }> {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const folder = join(tmp, 'stories260K');
  await importLlama2c({ checkpoint: join(STORIES260K, 'stories260K.bin'), tokenizer: join(STORIES260K, 'tok512.bin'), out: folder });
  const session = await ModelSession.load(folder, { cacheDir: join(tmp, 'cache'), offline: true, threads: 1 });
  return { session, folder, close: async () => { await session.dispose(); rmSync(tmp, { recursive: true, force: true }); } };
}
