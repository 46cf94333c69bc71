// Loads the model named on the command line (the built-in stories260K when none is), reporting download
// progress on stderr.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Engine } from '../core/engines/engine';
import { loadEngine } from '../core/engines/load';
import { UsageError, defaultCacheDir, numberOption } from './args';

/** dist/models/stories260K, written by `npm run build`: beside the bundle, or in dist/ when run from the sources. */
export function builtinModel(): string | undefined {
  return [path.join(__dirname, 'models', 'stories260K'), path.join(__dirname, '..', '..', 'dist', 'models', 'stories260K')]
    .find((f) => existsSync(path.join(f, 'config.json')));
}

export async function loadModel(values: { model?: string; 'cache-dir'?: string; offline?: boolean; 'hub-host'?: string; fast?: boolean; 'served-model'?: string; timeout?: string }): Promise<Engine> {
  const model = values.model ?? builtinModel();
  if (!model) throw new UsageError('--model DIR|HUB_ID is required (the built-in model is missing: run `npm run build`)');
  let lastFile = '';
  return loadEngine(model, {
    llama: { fast: values.fast },
    remote: {
      model: values['served-model'],
      apiKey: process.env.TOKEN_LENS_API_KEY || undefined,
      timeoutMs: numberOption(values.timeout, 'timeout', { above: 0 }) !== undefined ? Number(values.timeout) * 1000 : undefined,
    },
    cacheDir: values['cache-dir'] ?? defaultCacheDir(),
    offline: values.offline ?? process.env.TOKEN_LENS_OFFLINE === '1',
    remoteHost: values['hub-host'] ?? process.env.TOKEN_LENS_HUB_HOST,
    onProgress: (p) => {
      if (!process.stderr.isTTY) return;
      if (p.status === 'progress' && p.file) {
        lastFile = p.file;
        process.stderr.write(`\rdownloading ${p.file} ${Math.round(p.progress ?? 0)}%   `);
      } else if (p.status === 'done' && lastFile) {
        process.stderr.write('\n');
        lastFile = '';
      }
    },
  });
}
