// Which engine runs a model: llama.cpp for a GGUF file or an Ollama model name, onnxruntime otherwise.
import * as fs from 'node:fs';
import type { Engine } from './engine';
import type { LoadOptions } from '../runtime/session';
import type { LlamaLoadOptions } from './llama/llamaEngine';
import { OLLAMA_PREFIX, resolveOllamaModel } from './llama/modelStores';

/** Which API scores a text on a server: OpenAI's completions, SGLang's native /generate, or `auto`
 *  (SGLang's where the server answers its /get_model_info, the completions API otherwise). */
export type RemoteApi = 'auto' | 'openai' | 'sglang';
export const REMOTE_APIS: readonly RemoteApi[] = ['auto', 'openai', 'sglang'];

export interface EngineLoadOptions extends LoadOptions {
  llama?: Pick<LlamaLoadOptions, 'fast' | 'contextSize'>;
  /** For a server address: the served model, the API key and each request's time limit. */
  remote?: { model?: string; apiKey?: string; timeoutMs?: number; api?: RemoteApi };
}

/** A completions server's address (`http://host:port`, with or without `/v1`). */
export const isServerAddress = (ref: string) => /^https?:\/\//i.test(ref);

/** The GGUF file a model reference names, or undefined when it is not one. */
export function ggufFileOf(ref: string): string | undefined {
  if (isServerAddress(ref)) return undefined;
  if (ref.startsWith(OLLAMA_PREFIX)) return resolveOllamaModel(ref.slice(OLLAMA_PREFIX.length));
  if (ref.toLowerCase().endsWith('.gguf')) return ref;
  // Ollama's blobs have no extension: a file (not a folder) that starts with GGUF's magic is one.
  try {
    if (!fs.statSync(ref).isFile()) return undefined;
    const fd = fs.openSync(ref, 'r');
    const magic = Buffer.alloc(4);
    try { fs.readSync(fd, magic, 0, 4, 0); } finally { fs.closeSync(fd); }
    return magic.toString('latin1') === 'GGUF' ? ref : undefined;
  } catch {
    return undefined;
  }
}

export async function loadEngine(ref: string, opts: EngineLoadOptions): Promise<Engine> {
  if (isServerAddress(ref)) {
    const { RemoteEngine } = await import('./remote/remoteEngine');
    return RemoteEngine.load({ url: ref, ...opts.remote, memoryBudgetBytes: opts.memoryBudgetBytes, signal: opts.signal });
  }
  const gguf = ggufFileOf(ref);
  if (gguf !== undefined) {
    const { LlamaEngine } = await import('./llama/llamaEngine');
    return LlamaEngine.load(ref, gguf, { ...opts.llama, threads: opts.threads, memoryBudgetBytes: opts.memoryBudgetBytes, signal: opts.signal });
  }
  const { ModelSession } = await import('../runtime/session');
  return ModelSession.load(ref, opts);
}
