// node-llama-cpp, loaded at first use. It is ESM-only and ships native binaries: it stays out of the
// bundle (esbuild marks it external) and is imported with a real dynamic import(), which a CommonJS
// bundle would otherwise turn into require(). Only the prebuilt binaries that come from npm are used:
// nothing is downloaded or compiled, at install or at run time.
import type { Llama } from 'node-llama-cpp';

export type NodeLlama = typeof import('node-llama-cpp');

// esbuild and TypeScript keep `import()` inside a Function body as written.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<NodeLlama>;

let module: Promise<NodeLlama> | undefined;
let cpu: Promise<Llama> | undefined;

export function nodeLlama(): Promise<NodeLlama> {
  return (module ??= importEsm('node-llama-cpp'));
}

export class LlamaUnavailableError extends Error {}

/** The CPU build of llama.cpp (GPU builds are not shipped: CPU numbers are the exact ones). */
export function llamaRuntime(): Promise<Llama> {
  cpu ??= nodeLlama().then(({ getLlama, LlamaLogLevel }) => getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  })).catch((e) => {
    cpu = undefined;
    throw new LlamaUnavailableError(`llama.cpp is not available on this platform (${process.platform}-${process.arch}): ` +
      `${(e as Error).message.split('\n')[0]}. GGUF models need the linux-x64 build of Token Lens.`);
  });
  return cpu;
}
