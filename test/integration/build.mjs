// Bundles the extension-host suite into out/integration/index.js (vscode stays external: the host provides it).
import * as esbuild from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const suiteOut = join(root, 'out', 'integration', 'index.js');

export async function buildSuite(entry = join(root, 'test', 'integration', 'index.ts'), outfile = suiteOut) {
  await esbuild.build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs',
    target: 'node20', external: ['vscode'], sourcemap: 'inline', logLevel: 'warning' });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildSuite();
