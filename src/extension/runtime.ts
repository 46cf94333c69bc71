// The only door from the extension to src/core/runtime. The import is dynamic so that onnxruntime and
// transformers.js load at first use, not at activation (the bundle keeps them behind lazy initialisers).
import type { ModelSession } from '../core/runtime/session';
import type { Analysis } from '../core/runtime/analysis';
import type { WholeFileAnalysis } from '../core/runtime/wholeFile';

export type { ModelSession, Analysis, WholeFileAnalysis };

type RuntimeModule = typeof import('../core/runtime/session');
let runtimeModule: Promise<RuntimeModule> | undefined;

export function loadRuntime(): Promise<RuntimeModule> {
  return (runtimeModule ??= import('../core/runtime/session'));
}
