// Messages of the Toy Fine-tune view, its validator, the run snapshot both sides fold messages into, and the
// probe (the next-token distribution at a prompt's end, before and after training).
// Browser-safe: types only from core, no Node or vscode code.
import type { Candidate, ScoredToken } from '../core/types';
import type { ComparisonPayload } from './compare';

export const FT_PRESETS = ['toy', 'nanogpt-cpu'] as const;
/** A from-scratch preset, the current model (a Token Lens folder), or a folder the host asked the user for. */
export type BaseChoice = (typeof FT_PRESETS)[number] | 'current' | 'folder';

export interface FineTuneSettings {
  base: BaseChoice;
  /** LoRA adapts an existing model only; presets always train every weight. */
  mode: 'full' | 'lora';
  loraRank: number;
  steps: number;
  lr: number;
  optimizer: 'adamw' | 'sgd';
  seed: number;
  prompt: string;
  target: string;
}

export const DEFAULT_PROBE = { prompt: 'Once upon a time, there was a little girl named', target: ' Zoo' } as const;

/**
 * A probe taken from the training text itself, so it means something for code as much as for stories: the first
 * line with a word after some context; the prompt runs up to that word's last occurrence, the target is the word.
 */
export function probeFromText(text: string): { prompt: string; target: string } | null {
  for (const raw of text.split('\n', 200)) {
    const line = raw.replace(/\s+$/, '').slice(0, 160);
    const words = [...line.matchAll(/\s+([\p{L}\p{N}_]+)/gu)].filter((m) => m.index! >= 8);
    const last = words.at(-1);
    if (!last || last.index! + last[0].length > FT_LIMITS.prompt) continue;
    const target = ` ${last[1]}`;
    if (target.length > FT_LIMITS.target) continue;
    return { prompt: line.slice(0, last.index!), target };
  }
  return null;
}

/** The defaults a user starts from: a preset learns from scratch (many steps), a fine-tune needs few. */
export function defaultSettings(base: BaseChoice = 'toy'): FineTuneSettings {
  const scratch = base === 'toy' || base === 'nanogpt-cpu';
  return { base, mode: 'full', loraRank: 8, steps: scratch ? 300 : 40, lr: 1e-3, optimizer: 'adamw', seed: 1337, ...DEFAULT_PROBE };
}

export interface PresetInfo { name: string; layers: number; heads: number; embd: number; block: number; batch: number }

/** The probe at one model: what it predicts after the prompt, and its loss on each token of prompt + target. */
export interface ProbeResult {
  model: string;
  prompt: string;
  target: string;
  top: { text: string; prob: number }[];
  /** The target as the model's tokens (empty: it has no token of its own after the prompt). */
  targetTokens: string[];
  /** Probability and rank of the target's first token at the prompt's end. */
  firstProb: number | null;
  targetRank: number | null;
  /** P(target | prompt): the product of its tokens' probabilities. */
  targetProb: number | null;
  tokens: { text: string; loss: number | null; target: boolean }[];
  meanLoss: number;
  note?: string;
}

export interface ProgressPoint { step: number; loss: number }

/** The starting model (A, "before") against the trained one (B, "after"), through the compare lens. */
export interface FineTuneComparison {
  /** The whole probe text, prompt + target. */
  probe: ComparisonPayload & { text: string };
  /** Text the run did not train on, and where it came from. */
  heldOut: ComparisonPayload & { text: string; source: string };
}

export interface RunResult {
  status: 'done' | 'stopped' | 'diverged' | 'memory';
  message: string;
  /** Training finished but went wrong (the loss ended far above where it started). */
  warning?: string;
  step: number;
  loss: number | null;
  valLoss: number | null;
  exported: boolean;
}

export type RunPhase = 'idle' | 'starting' | 'running' | 'paused' | 'stopping' | 'probing' | 'finished' | 'failed';

/** Everything the view shows about the current (or last) run. The host keeps one too, to re-send on `ready`. */
export interface RunSnapshot {
  phase: RunPhase;
  settings: FineTuneSettings | null;
  fileName: string;
  batch: number;
  block: number;
  steps: number;
  notes: string[];
  train: ProgressPoint[];
  val: ProgressPoint[];
  last: { step: number; loss: number; valLoss: number | null; tokensPerSec: number; etaSec: number; lr: number } | null;
  before: ProbeResult | null;
  after: ProbeResult | null;
  comparison: FineTuneComparison | null;
  result: RunResult | null;
  savedTo: string | null;
  busy: string;
  error: string | null;
}

/** Context the view needs to offer choices. */
export interface FineTuneContext {
  file: { path: string; name: string } | null;
  fileProblem?: string;
  /** `tokenLens.model`, and whether it is a Token Lens folder that can be fine-tuned. */
  current: { ref: string; usable: boolean; reason?: string } | null;
  folder: string | null;
  presets: PresetInfo[];
  /** A probe taken from the training file; the view uses it while the user has not written one. */
  probe?: { prompt: string; target: string } | null;
}

// ---- host -> view ----------------------------------------------------------------------------------

export interface FineTuneHostMessages {
  context: FineTuneContext;
  /** The user chose the model folder in `context.folder` just now: it becomes the model to start from. */
  folderChosen: Record<never, never>;
  /** The whole run state (sent on `ready`, so a re-shown view matches the host). */
  snapshot: { run: RunSnapshot };
  runStarting: { settings: FineTuneSettings; fileName: string; steps: number };
  started: { batch: number; block: number; notes: string[] };
  progress: { step: number; steps: number; loss: number; valLoss: number | null; tokensPerSec: number; etaSec: number; lr: number };
  paused: Record<never, never>;
  resumed: Record<never, never>;
  stopping: Record<never, never>;
  probe: { phase: 'before' | 'after'; probe: ProbeResult };
  /** Before against after on the probe text and on held-out text (sent after the "after" probe). */
  comparison: FineTuneComparison;
  probing: { message: string };
  finished: { result: RunResult };
  failed: { message: string };
  saved: { path: string };
  busy: { message: string };
  error: { message: string };
}

// ---- view -> host ----------------------------------------------------------------------------------

export interface FineTuneViewMessages {
  ready: Record<never, never>;
  /** Use the active editor's file. */
  useActiveFile: Record<never, never>;
  /** Ask the user for a file (open dialog). */
  pickFile: Record<never, never>;
  /** Ask the user for a base model folder. */
  pickFolder: Record<never, never>;
  start: { settings: FineTuneSettings };
  stop: Record<never, never>;
  pause: Record<never, never>;
  resume: Record<never, never>;
  /** Save the trained model: the host asks where. */
  save: Record<never, never>;
  /** Make the trained model current and explain the probe prompt with it. */
  explain: Record<never, never>;
}

type Union<M> = { [K in keyof M]: { type: K } & M[K] }[keyof M];
export type FineTuneHostToView = Union<FineTuneHostMessages>;
export type FineTuneViewToHost = Union<FineTuneViewMessages>;
export type FineTuneHostMessage<K extends keyof FineTuneHostMessages> = { type: K } & FineTuneHostMessages[K];

export function ftMessage<K extends keyof FineTuneHostMessages>(type: K, payload: FineTuneHostMessages[K]): FineTuneHostMessage<K> {
  return { type, ...payload } as FineTuneHostMessage<K>;
}

// ---- validation ------------------------------------------------------------------------------------

/** Allowed ranges of the numeric settings: the view checks them as the user types, the host at its door. */
export const FT_RANGES = {
  steps: { min: 1, max: 100_000, integer: true, label: 'Steps' },
  loraRank: { min: 1, max: 256, integer: true, label: 'LoRA rank' },
  lr: { min: 1e-6, max: 1, integer: false, label: 'Learning rate' },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true, label: 'Seed' },
} as const;
export type RangedSetting = keyof typeof FT_RANGES;

export const FT_LIMITS = { prompt: 2_000, target: 200 } as const;

/** Why `value` is not allowed for `field` (with the allowed range), or null. */
export function rangeProblem(field: RangedSetting, value: unknown): string | null {
  const r = FT_RANGES[field];
  const range = `from ${r.min} to ${r.max.toLocaleString('en-US')}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${r.label} must be a number ${range}.`;
  if (r.integer && !Number.isInteger(value)) return `${r.label} must be a whole number ${range}.`;
  if (value < r.min || value > r.max) return `${r.label} must be ${range} (got ${value}).`;
  return null;
}

type Check = (v: unknown) => string | null;
const oneOf = (...values: string[]): Check => (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);
const str = (min: number, max: number): Check => (v) =>
  typeof v !== 'string' ? 'must be a string' : v.length < min || v.length > max ? `must have ${min} to ${max} characters` : null;
const ranged = (field: RangedSetting): Check => (v) => rangeProblem(field, v);

const settingsSchema: { [F in keyof FineTuneSettings]-?: Check } = {
  base: oneOf(...FT_PRESETS, 'current', 'folder'),
  mode: oneOf('full', 'lora'),
  loraRank: ranged('loraRank'),
  steps: ranged('steps'),
  lr: ranged('lr'),
  optimizer: oneOf('adamw', 'sgd'),
  seed: ranged('seed'),
  prompt: str(1, FT_LIMITS.prompt),
  target: str(1, FT_LIMITS.target),
};

const exact = (schema: Record<string, Check>): Check => (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object';
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !Object.prototype.hasOwnProperty.call(schema, k));
  if (extra !== undefined) return `has an unexpected field ${JSON.stringify(extra).slice(0, 60)}`;
  for (const [k, check] of Object.entries(schema)) {
    const problem = check(o[k]);
    if (problem) return `.${k}${problem.startsWith('.') ? problem : `: ${problem}`}`;
  }
  return null;
};

const none = {};
const viewSchemas: { [K in keyof FineTuneViewMessages]: Record<string, Check> } = {
  ready: none, useActiveFile: none, pickFile: none, pickFolder: none,
  start: { settings: exact(settingsSchema) },
  stop: none, pause: none, resume: none, save: none, explain: none,
};

/** The message, typed, when it is exactly one of the view->host messages; otherwise an Error saying why. */
export function validateFineTuneMessage(x: unknown): FineTuneViewToHost | Error {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return new Error('message must be an object');
  const type = (x as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(viewSchemas, type)) {
    return new Error(`unknown message type ${JSON.stringify(String(type)).slice(0, 60)}`);
  }
  const problem = exact({ type: () => null, ...viewSchemas[type as keyof FineTuneViewMessages] })(x);
  return problem ? new Error(`${type}${problem.startsWith('.') ? problem : `: ${problem}`}`) : (x as FineTuneViewToHost);
}

// ---- the run snapshot ------------------------------------------------------------------------------

/** Loss curves keep at most this many points; older ones are thinned to every other one. */
export const MAX_POINTS = 600;

export function emptyRun(): RunSnapshot {
  return { phase: 'idle', settings: null, fileName: '', batch: 0, block: 0, steps: 0, notes: [], train: [], val: [],
    last: null, before: null, after: null, comparison: null, result: null, savedTo: null, busy: '', error: null };
}

function pushPoint(points: ProgressPoint[], p: ProgressPoint): ProgressPoint[] {
  const next = [...points, p];
  // Halving keeps the curve's shape at any length and the cost of each append constant on average.
  return next.length > MAX_POINTS ? next.filter((_, i) => i % 2 === 1 || i === next.length - 1) : next;
}

/** Folds one host message into the run snapshot. Pure: the host and the view run the same fold. */
export function foldRun(run: RunSnapshot, msg: FineTuneHostToView): RunSnapshot {
  switch (msg.type) {
    case 'snapshot': return msg.run;
    case 'runStarting':
      return { ...emptyRun(), phase: 'starting', settings: msg.settings, fileName: msg.fileName, steps: msg.steps };
    case 'started':
      return { ...run, phase: run.phase === 'starting' ? 'running' : run.phase, batch: msg.batch, block: msg.block, notes: msg.notes, busy: '' };
    case 'progress': {
      const { type: _, ...last } = msg;
      return {
        ...run, last, steps: msg.steps, phase: run.phase === 'starting' ? 'running' : run.phase,
        train: pushPoint(run.train, { step: msg.step, loss: msg.loss }),
        val: msg.valLoss === null || run.val.at(-1)?.step === msg.step ? run.val
          : run.val.at(-1)?.loss === msg.valLoss ? run.val : pushPoint(run.val, { step: msg.step, loss: msg.valLoss }),
      };
    }
    case 'paused': return run.phase === 'running' ? { ...run, phase: 'paused' } : run;
    case 'resumed': return run.phase === 'paused' ? { ...run, phase: 'running' } : run;
    case 'stopping': return { ...run, phase: 'stopping' };
    case 'probe': return { ...run, [msg.phase]: msg.probe };
    case 'comparison': return { ...run, comparison: { probe: msg.probe, heldOut: msg.heldOut } };
    case 'probing': return { ...run, phase: 'probing', busy: msg.message };
    case 'finished': return { ...run, phase: 'finished', result: msg.result, busy: '' };
    case 'failed': return { ...run, phase: 'failed', error: msg.message, busy: '' };
    case 'saved': return { ...run, savedTo: msg.path };
    case 'busy': return { ...run, busy: msg.message };
    case 'error': return { ...run, error: msg.message, busy: '' };
    default: return run;
  }
}

export const isActive = (phase: RunPhase): boolean =>
  phase === 'starting' || phase === 'running' || phase === 'paused' || phase === 'stopping' || phase === 'probing';

// ---- the probe -------------------------------------------------------------------------------------

/** The parts of a runtime Analysis (src/core/runtime/analysis.ts) the probe reads. */
export interface ProbeAnalysis {
  tokens: ScoredToken[];
  meanLoss: number;
  topK(position: number, k: number): Candidate[];
  tokenIndexAt(offset: number): number;
}

/** Characters of the probe the model's vocabulary lacks, and the id of the token they all become. */
export interface UnknownChars { id: number; text: string; chars: string[] }

/**
 * Reads the probe off an analysis of prompt + target: the distribution after the last token before the target,
 * the target's first token's probability and rank there, and the probability of the whole target (chain rule).
 * Tokens that stand for characters the vocabulary lacks read as `unknown.text`, and a note names those characters.
 */
export function probeFrom(model: string, prompt: string, target: string, a: ProbeAnalysis, k = 5, unknown?: UnknownChars): ProbeResult {
  const shown = (id: number, text: string) => (unknown && id === unknown.id ? unknown.text : text);
  const at = a.tokenIndexAt(prompt.length);
  const tokens = a.tokens.map((t) => ({ text: shown(t.id, t.text), loss: t.loss, target: t.end > prompt.length }));
  const unknownNote = unknown?.chars.length
    ? `The training file never contains ${unknown.chars.map((c) => JSON.stringify(c)).join(', ')}: the model reads ` +
      `${unknown.chars.length > 1 ? 'them' : 'it'} as the unknown token ${unknown.text}.` : undefined;
  const base = { model, prompt, target, tokens, meanLoss: a.meanLoss };
  if (at <= 0 || a.tokens[at].start > prompt.length) {
    return { ...base, top: [], targetTokens: [], firstProb: null, targetRank: null, targetProb: null,
      note: ['The target has no token of its own after the prompt.', unknownNote].filter(Boolean).join(' ') };
  }
  const t = a.tokens[at];
  const rest = a.tokens.slice(at);
  const top = a.topK(at - 1, k).map((c) => ({ text: shown(c.id, c.text), prob: c.prob }));
  const merged = t.start < prompt.length ? `The tokenizer joins the prompt's end and the target into ${JSON.stringify(t.text)}.` : undefined;
  const note = [merged, unknownNote].filter(Boolean).join(' ') || undefined;
  return { ...base, top, targetTokens: rest.map((x) => shown(x.id, x.text)), firstProb: t.prob, targetRank: t.rank,
    targetProb: Math.exp(-rest.reduce((sum, x) => sum + (x.loss ?? 0), 0)), note };
}
