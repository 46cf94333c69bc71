// explain's lenses: --logit-lens and --attribution, their flags, JSON and text.
import type { Analysis } from '../core/runtime/analysis';
import type { ModelSession } from '../core/runtime/session';
import type { Engine } from '../core/engines/engine';
import { ATTRIBUTION_METHODS, Attribution, AttributionError, AttributionMethod, attribute } from '../core/lenses/attribution';
import { LogitLens, logitLens } from '../core/lenses/logitLens';
import { LensUnavailableError } from '../core/lenses/projectModel';
import { UsageError, intOption } from './args';

export interface LensOptions {
  logitLens: boolean;
  attribution?: { method: AttributionMethod; target?: string; contrast?: string; steps?: number };
}

interface LensFlags {
  'logit-lens'?: boolean;
  attribution?: string;
  target?: string;
  contrast?: string;
  steps?: string;
}

export function lensOptions(v: LensFlags): LensOptions {
  const method = v.attribution;
  if (method === undefined) {
    const stray = (['target', 'contrast', 'steps'] as const).filter((k) => v[k] !== undefined);
    if (stray.length) throw new UsageError(`--${stray[0]} goes with --attribution METHOD`);
    return { logitLens: !!v['logit-lens'] };
  }
  if (!(ATTRIBUTION_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--attribution must be one of ${ATTRIBUTION_METHODS.join(', ')}, got "${method}"`);
  }
  if (v.steps !== undefined && method !== 'integrated-gradients') throw new UsageError('--steps goes with --attribution integrated-gradients');
  return {
    logitLens: !!v['logit-lens'],
    attribution: {
      method: method as AttributionMethod, target: v.target, contrast: v.contrast,
      steps: v.steps === undefined ? undefined : intOption(v.steps, 'steps', 64, 1, 100000),
    },
  };
}

export interface LensResults {
  logitLens?: LogitLens | { layers: 0; top: []; decisionDepth: []; note: string };
  attribution?: Attribution;
}

export async function runLenses(engine: Engine, text: string, topK: number, o: LensOptions): Promise<LensResults> {
  const out: LensResults = {};
  if (o.logitLens && engine.kind !== 'onnx') {
    // The logit lens re-runs the ONNX graph: other engines give the analysis and the reason.
    const note = engine.missing.hiddenStates ?? `${engine.kind} does not expose hidden states`;
    process.stderr.write(`${note}\n`);
    out.logitLens = { layers: 0, top: [], decisionDepth: [], note };
  } else if (o.logitLens) {
    try {
      out.logitLens = await logitLens(engine as ModelSession, text, topK);
    } catch (e) {
      // As with attention: the analysis still prints, with the reason there is no lens.
      if (!(e instanceof LensUnavailableError)) throw e;
      process.stderr.write(`${e.message}\n`);
      out.logitLens = { layers: 0, top: [], decisionDepth: [], note: e.message };
    }
  }
  if (o.attribution) {
    const progress = process.stderr.isTTY
      ? (done: number, total: number) => process.stderr.write(`\rattribution ${done}/${total}${done === total ? '\n' : ''}`)
      : undefined;
    try {
      out.attribution = await attribute(engine, text, { ...o.attribution, onProgress: progress });
    } catch (e) {
      if (e instanceof AttributionError || e instanceof LensUnavailableError) throw new UsageError(e.message);
      throw e;
    }
  }
  return out;
}

/** The lenses' part of `explain --json`, fields in their documented order. */
export function lensJson(r: LensResults) {
  const a = r.attribution;
  return {
    ...(r.logitLens ? { logitLens: r.logitLens } : {}),
    ...(a ? { attribution: { method: a.method, target: a.target, contrast: a.contrast, scores: a.scores, value: a.value,
      baselineValue: a.baselineValue, baseline: a.baseline, steps: a.steps } } : {}),
  };
}

export function printLenses(a: Analysis, r: LensResults): void {
  const out: string[] = [];
  const lens = r.logitLens;
  if (lens && 'note' in lens) out.push(`logit lens: ${lens.note}`);
  else if (lens) {
    out.push('logit lens (top-1 after each block; last row = the model\'s output):');
    const cell = (c: { text: string; prob: number }) => `${JSON.stringify(c.text)} ${(c.prob * 100).toFixed(0)}%`;
    a.tokens.forEach((t, i) => {
      const row = lens.top.map((layer) => cell(layer[i][0])).join('  ');
      out.push(`${String(i).padStart(5)}  ${JSON.stringify(t.text).padEnd(14).slice(0, 14)}  settles at block ${lens.decisionDepth[i]}:  ${row}`);
    });
  }
  const at = r.attribution;
  if (at) {
    const f = at.contrast
      ? `logit(${JSON.stringify(at.target.text)}) - logit(${JSON.stringify(at.contrast.text)})`
      : `log p(${JSON.stringify(at.target.text)})`;
    out.push(`attribution (${at.method}) of ${f} = ${at.value.toFixed(4)}` +
      (at.baselineValue !== null ? `, baseline (${at.baseline}) ${at.baselineValue.toFixed(4)}, ${at.steps} steps` : '') + ':');
    a.tokens.forEach((t, i) => out.push(`${String(i).padStart(5)}  ${JSON.stringify(t.text).padEnd(20).slice(0, 20)}  ${at.scores[i].toFixed(4).padStart(9)}`));
  }
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
}
