// What every engine gives the views, and what only some can. An engine runs a model: onnxruntime on a
// graph Token Lens wrote (it can do everything), llama.cpp on any GGUF file, or a remote server. Views
// ask `missing` before they offer a feature, and show its one-line note instead of an error or an
// empty chart.
import type { Analysis } from '../runtime/analysis';
import type { MemoryBudget } from '../runtime/cache';
import type { ModelInfo, Token } from '../types';

export type EngineKind = 'onnx' | 'llama.cpp' | 'remote';

/** What some engines cannot do: attention maps, per-layer hidden states (the logit lens), gradients
 *  (gradient attribution), training (fine-tuning). */
export type Capability = 'attention' | 'hiddenStates' | 'gradients' | 'training';

/** How to analyse a text; an engine ignores what it cannot do (incremental passes, kept logits). */
export interface AnalyzeOptions {
  attention?: boolean;
  /** Analyse at most this many tokens (the last ones); default and maximum: the context window. */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Run the model even when the cache has this analysis (benchmarks). */
  fresh?: boolean;
  /**
   * The text is the end of a longer one, of which this many characters were left out before it: its
   * first tokens may be cut words and are not analysed, and token counts include an estimate for them.
   */
  precedingChars?: number;
  /**
   * Keep this analysis's KV cache in the worker, and continue a kept one when the text begins with the same
   * tokens: after an edit, the model runs only from the first token that changed (see keptCaches.ts).
   * Ignored with attention, and for exports without a KV cache or a scoring head.
   */
  incremental?: boolean;
  /**
   * Bring the full [T, V] logits out of the model and keep them while the memory budget has room (default
   * true): what sampling controls and candidates past the 100th need. Without them an analysis has every
   * score, rank and the 100 best candidates of each position, and recomputes a full row when asked for one.
   */
  logits?: boolean;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  greedy?: boolean;
  temperature?: number;
  signal?: AbortSignal;
}

export interface SequenceOptions {
  signal?: AbortSignal;
  /** Sequences done out of all. */
  onProgress?: (done: number, total: number) => void;
}

export interface Engine {
  readonly kind: EngineKind;
  /** The model as the user named it (a folder, a Hub id, a GGUF file, an Ollama name, a server). */
  readonly ref: string;
  readonly info: ModelInfo;
  /** What this engine's analyses may keep in memory (tokenLens.memoryBudgetMB). */
  readonly memory: MemoryBudget;
  /** The capabilities this engine or model lacks, each with the one-line note views show instead. */
  readonly missing: Partial<Record<Capability, string>>;
  /** Set when the numbers are knowingly approximate (a fast setting): views say so. */
  readonly approximate?: string;
  /** Tokens of a text with their UTF-16 offsets (BOS included when the model adds one). */
  tokenize(text: string): Token[];
  /**
   * One evaluation of the text: per-token probability, rank and loss, and each position's best
   * candidates. Asks for attention only where the engine has it.
   */
  analyze(text: string, opts?: AnalyzeOptions): Promise<Analysis>;
  /** A token's text as analyses show it. */
  tokenText(id: number): string;
  /** Every id whose text (as `tokenText` shows it) is exactly `text` (a server: among the ids it has named). */
  idsOfText(text: string): number[];
  /**
   * Log p of each of `tokens` after each sequence of ids, the ids taken as they are (no BOS added): what
   * occlusion asks of engines other than ONNX (whose batches run in lenses/attribution.ts).
   */
  nextLogprobs?(rows: number[][], tokens: number[], opts: SequenceOptions): Promise<number[][]>;
  /** A server that names the candidates after a text by their text only is asked for their ids (remote). */
  nameCandidatesAfter?(ids: number[], signal?: AbortSignal): Promise<void>;
  /** Continues a prompt (empty: from BOS) and returns only the new text. */
  generate(prompt: string, opts?: GenerateOptions): Promise<string>;
  dispose(): Promise<void>;
}

/** The note for a capability the engine lacks, or undefined when it has it. */
export function missingNote(engine: Pick<Engine, 'missing'>, capability: Capability): string | undefined {
  return engine.missing[capability];
}

/** Log p of `tokens` in a row of logits, in float64. */
export function logprobsIn(logits: ArrayLike<number>, tokens: number[]): number[] {
  let max = -Infinity;
  for (let v = 0; v < logits.length; v++) max = Math.max(max, logits[v]);
  let z = 0;
  for (let v = 0; v < logits.length; v++) z += Math.exp(logits[v] - max);
  return tokens.map((t) => logits[t] - max - Math.log(z));
}

/** The notes llama.cpp's engine gives: it exposes next-token logits only. */
export const LLAMA_CPP_MISSING: Record<Capability, string> = {
  attention: 'llama.cpp does not expose attention',
  hiddenStates: 'llama.cpp does not expose per-layer hidden states (no logit lens)',
  gradients: 'llama.cpp does not compute gradients (occlusion attribution only)',
  training: 'llama.cpp models cannot be fine-tuned here',
};
