// Loads the model named on the command line (the built-in stories260K when none is), reporting download
// progress on stderr.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Engine } from '../core/engines/engine';
import { loadEngine, REMOTE_APIS, type RemoteApi } from '../core/engines/load';
import { DTYPE_CHOICES, type DtypeChoice } from '../core/runtime/onnxFile';
import { UsageError, defaultCacheDir, numberOption } from './args';

/** dist/models/stories260K, written by `npm run build`: beside the bundle, or in dist/ when run from the sources. */
export function builtinModel(): string | undefined {
  return [path.join(__dirname, 'models', 'stories260K'), path.join(__dirname, '..', '..', 'dist', 'models', 'stories260K')]
    .find((f) => existsSync(path.join(f, 'config.json')));
}

/** A dtype flag value, checked. */
export function dtypeOption(value: string | undefined): DtypeChoice {
  if (value === undefined) return 'auto';
  if (!(DTYPE_CHOICES as readonly string[]).includes(value)) throw new UsageError(`--dtype must be one of ${DTYPE_CHOICES.join(', ')}, got "${value}"`);
  return value as DtypeChoice;
}

/**
 * A model reference with an optional variant: "models/x@q8" is the q8 file of models/x (the suffix is
 * read only when it names a dtype, so folders with an @ in their name still work).
 */
export function splitVariant(ref: string): { ref: string; dtype?: DtypeChoice } {
  const at = ref.lastIndexOf('@');
  const suffix = at > 0 ? ref.slice(at + 1) : '';
  return (DTYPE_CHOICES as readonly string[]).includes(suffix) ? { ref: ref.slice(0, at), dtype: suffix as DtypeChoice } : { ref };
}

export async function loadModel(values: { model?: string; 'cache-dir'?: string; offline?: boolean; 'hub-host'?: string; dtype?: string;
  fast?: boolean; 'served-model'?: string; timeout?: string; api?: string }): Promise<Engine> {
  const given = values.model ?? builtinModel();
  if (!given) throw new UsageError('--model DIR|HUB_ID is required (the built-in model is missing: run `npm run build`)');
  const { ref: model, dtype: suffixed } = splitVariant(given);
  const dtype = suffixed ?? dtypeOption(values.dtype);
  let lastFile = '';
  return loadEngine(model, {
    dtype,
    llama: { fast: values.fast },
    remote: {
      model: values['served-model'],
      api: remoteApiOption(values.api),
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

function remoteApiOption(value: string | undefined): RemoteApi | undefined {
  if (value === undefined) return undefined;
  if (!(REMOTE_APIS as readonly string[]).includes(value)) throw new UsageError(`--api must be one of ${REMOTE_APIS.join(', ')}, not "${value}"`);
  return value as RemoteApi;
}
