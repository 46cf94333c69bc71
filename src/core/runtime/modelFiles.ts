// Where a model's files come from: a local folder, or a Hub id downloaded through transformers.js
// into a cache directory (with progress events) and reused from there, offline included.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadProgress } from '../types';
import { type DtypeChoice, findOnnxFile, noDecoderMessage, onnxFilesFor } from './onnxFile';
import { transformers, withTransformersEnv } from './transformers';
import { isMaskedModel } from './masked';

/** Besides these, a model folder needs one decoder file of ONNX_FILES. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

export class ModelLoadError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

export interface FetchOptions {
  cacheDir: string;
  offline?: boolean;
  /** Where Hub files are downloaded from (default https://huggingface.co/). */
  remoteHost?: string;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Which variant of the decoder to use (`tokenLens.dtype`); default auto: float32 when there is one. */
  dtype?: DtypeChoice;
}

/** A reference is a local folder when it looks like a path or names an existing directory. */
export function isLocalRef(ref: string): boolean {
  return path.isAbsolute(ref) || ref.startsWith('.') || ref.startsWith('~') || fs.existsSync(ref);
}

export function expandHome(ref: string): string {
  return ref.startsWith('~') ? path.join(process.env.HOME ?? '', ref.slice(1)) : ref;
}

/** Throws a clear error naming what a model folder lacks. */
export function checkModelFolder(dir: string, label = dir, dtype: DtypeChoice = 'auto'): void {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ModelLoadError(`Model folder not found: ${label}`);
  }
  const missing = REQUIRED_FILES.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) {
    throw new ModelLoadError(
      `${label} is not a Token Lens / transformers.js model folder: missing ${missing.join(', ')}`,
      `A model folder needs ${REQUIRED_FILES.join(', ')} and an ONNX decoder in onnx/.`);
  }
  if (!findOnnxFile(dir, dtype)) throw new ModelLoadError(noDecoderMessage(label, dir, dtype));
}

/** Reads one of a model folder's JSON files, naming the file when it is broken. */
export function readModelJson(dir: string, file: string): Record<string, any> {
  const full = path.join(dir, file);
  try {
    return JSON.parse(fs.readFileSync(full, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(`${full} is not a valid JSON file: ${(e as Error).message}`);
  }
}

/** The folder in the cache where a Hub model's files live once downloaded. */
export function cachedModelFolder(id: string, cacheDir: string): string {
  return path.join(cacheDir, id);
}

export function isCached(id: string, cacheDir: string, dtype: DtypeChoice = 'auto'): boolean {
  const dir = cachedModelFolder(id, cacheDir);
  return REQUIRED_FILES.every((f) => fs.existsSync(path.join(dir, f))) && findOnnxFile(dir, dtype) !== undefined;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

/** Returns a local folder for `ref`, downloading a Hub model into the cache first when needed. */
export async function resolveModelFolder(ref: string, opts: FetchOptions): Promise<string> {
  if (isLocalRef(ref)) {
    const dir = path.resolve(expandHome(ref));
    checkModelFolder(dir, ref, opts.dtype);
    return dir;
  }
  if (!HUB_ID.test(ref) || ref.includes('..')) {
    throw new ModelLoadError(`"${ref}" is neither a model folder nor a Hub model id (like "owner/name").`);
  }
  if (isCached(ref, opts.cacheDir, opts.dtype)) return cachedModelFolder(ref, opts.cacheDir);
  if (opts.offline) {
    throw new ModelLoadError(
      `Offline mode: "${ref}" is not in the model cache (${opts.cacheDir}), and downloads are turned off.`,
      'Turn offline mode off to download it once, or choose a local model folder.');
  }
  await download(ref, opts);
  const dir = cachedModelFolder(ref, opts.cacheDir);
  checkModelFolder(dir, ref, opts.dtype);
  return dir;
}

async function download(id: string, opts: FetchOptions): Promise<void> {
  const cancelled = () => new ModelLoadError(`Download of "${id}" was cancelled.`);
  await withTransformersEnv(opts.signal, cancelled, () => downloadNow(id, opts));
}

async function downloadNow(id: string, opts: FetchOptions): Promise<void> {
  const { env, AutoConfig, AutoTokenizer, AutoModelForCausalLM, AutoModelForMaskedLM } = await transformers();
  const saved = { ...pick(env) };
  env.allowRemoteModels = true;
  env.allowLocalModels = false;
  env.cacheDir = opts.cacheDir;
  if (opts.remoteHost) env.remoteHost = opts.remoteHost.endsWith('/') ? opts.remoteHost : `${opts.remoteHost}/`;
  const signal = opts.signal;
  const baseFetch = saved.fetch;
  env.fetch = ((url: string, init?: RequestInit) =>
    baseFetch(url, { ...init, signal })) as typeof env.fetch;
  const options = {
    cache_dir: opts.cacheDir,
    dtype: 'fp32' as const,
    progress_callback: (p: Record<string, unknown>) => {
      if (signal?.aborted) return;
      opts.onProgress?.({
        status: p.status as LoadProgress['status'],
        file: p.file as string | undefined,
        loaded: p.loaded as number | undefined,
        total: p.total as number | undefined,
        progress: p.progress as number | undefined,
      });
    },
  };
  try {
    const config = await AutoConfig.from_pretrained(id, options) as unknown as Record<string, unknown>;
    await AutoTokenizer.from_pretrained(id, options);
    // BERT and its kin are masked language models: transformers.js loads them by another class.
    await downloadDecoder(id, options, isMaskedModel(config) ? AutoModelForMaskedLM : AutoModelForCausalLM, opts.dtype);
  } catch (e) {
    if (signal?.aborted) throw new ModelLoadError(`Download of "${id}" was cancelled.`);
    if (e instanceof ModelLoadError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new ModelLoadError(`Could not download "${id}" from ${env.remoteHost}: ${reason}`, reason);
  } finally {
    Object.assign(env, saved);
  }
}

/**
 * Fetches the first decoder file for `dtype` the repository has. Without the Hub's file listing, each
 * is asked for in turn; only "not found" moves on to the next.
 */
async function downloadDecoder(id: string, options: Record<string, unknown>,
  AutoModel: Pick<Awaited<ReturnType<typeof transformers>>['AutoModelForCausalLM'], 'from_pretrained'>, dtype: DtypeChoice = 'auto'): Promise<void> {
  const choices = onnxFilesFor(dtype);
  for (const choice of choices) {
    try {
      const model = await AutoModel.from_pretrained(id, { ...options, dtype: choice.dtype, model_file_name: choice.modelFileName });
      await model.dispose();
      return;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      // transformers.js says `Could not locate file: "<url>".`; the quote keeps model.onnx_data from matching.
      // The file is there but does not load: say which one (a repository may hold several variants).
      if (!(/Could not locate file/.test(reason) && reason.includes(`/${choice.file}"`))) {
        throw new ModelLoadError(`${choice.file} of "${id}" was downloaded but does not load: ${reason.split('\n')[0].slice(0, 300)}`, reason);
      }
    }
  }
  throw new Error(`the repository has no ${dtype === 'auto' ? '' : `${dtype} `}ONNX decoder (looked for ${choices.map((c) => c.file).join(', ')})`);
}

function pick(env: Awaited<ReturnType<typeof transformers>>['env']) {
  const { allowRemoteModels, allowLocalModels, cacheDir, remoteHost, fetch } = env;
  return { allowRemoteModels, allowLocalModels, cacheDir, remoteHost, fetch };
}
