// The only door from the extension to src/core/runtime and src/core/lenses. The imports are dynamic so that
// onnxruntime and transformers.js load at first use, not at activation (each is its own bundle: dist/runtime.js,
// dist/lenses.js).
import type { ModelSession } from '../core/runtime/session';
import type { Analysis } from '../core/runtime/analysis';
import type { Engine } from '../core/engines/engine';
import type { WholeFileAnalysis } from '../core/runtime/wholeFile';

export type { ModelSession, Analysis, Engine, WholeFileAnalysis };

type RuntimeModule = typeof import('../core/engines/runtime');
let runtimeModule: Promise<RuntimeModule> | undefined;

export function loadRuntime(): Promise<RuntimeModule> {
  return (runtimeModule ??= import('../core/engines/runtime'));
}

type LensesModule = typeof import('../core/lenses/index');
let lensesModule: Promise<LensesModule> | undefined;

export function loadLenses(): Promise<LensesModule> {
  return (lensesModule ??= import('../core/lenses/index'));
}
