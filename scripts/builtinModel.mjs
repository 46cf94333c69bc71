// The built-in model: vendor/stories260K (llama2.c files) imported by the CLI into dist/models/stories260K, the
// folder layout transformers.js loads. The extension and the CLI use it when no model is configured, and
// every VSIX ships it (it is part of dist/). Skipped when the folder was imported from the same files by the
// same CLI bundle.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUILTIN_MODEL_DIR = join('dist', 'models', 'stories260K');
const SOURCE = join('vendor', 'stories260K');
const STAMP = '.source-sha256';

function fingerprint(root) {
  const h = createHash('sha256');
  for (const f of [join(SOURCE, 'stories260K.bin'), join(SOURCE, 'tok512.bin'), join(SOURCE, 'README.md'), join('dist', 'cli.js')]) {
    h.update(f).update(readFileSync(join(root, f)));
  }
  return h.digest('hex');
}

/** Imports the built-in model unless it is up to date; returns what it did. */
export function importBuiltinModel(root = process.cwd()) {
  const out = join(root, BUILTIN_MODEL_DIR);
  const want = fingerprint(root);
  const stamp = join(out, STAMP);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return 'up to date';
  // Imported next to its final place and renamed: an interrupted build never leaves half a model.
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'import-llama2c',
    '--checkpoint', join(root, SOURCE, 'stories260K.bin'), '--tokenizer', join(root, SOURCE, 'tok512.bin'), '--out', tmp],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  // The folder carries its source's license note (MIT), as every copy of the weights must.
  copyFileSync(join(root, SOURCE, 'README.md'), join(tmp, 'LICENSE.md'));
  writeFileSync(join(tmp, STAMP), want);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return 'imported';
}
