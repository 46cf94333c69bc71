// Loads the model named on the command line, reporting download progress on stderr.
import { ModelSession } from '../core/runtime/session';
import { UsageError, defaultCacheDir } from './args';

export async function loadModel(values: { model?: string; 'cache-dir'?: string; offline?: boolean; 'hub-host'?: string }): Promise<ModelSession> {
  if (!values.model) throw new UsageError('--model DIR|HUB_ID is required');
  let lastFile = '';
  return ModelSession.load(values.model, {
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
