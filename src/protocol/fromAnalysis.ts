// The one builder of the Explain panel's host->webview messages from a runtime Analysis: the host posts what
// these return and the browser tests' fixtures are recorded from them. Typed structurally, so this module stays
// browser-safe. Every field is a plain value: postMessage copies data, not the extra properties of an array.
import type { AnalysisWindow, AttentionData, Candidate, ModelInfo, SamplingControls, ScoredToken } from '../core/types';
import type { AttributionPayload, HostMessage, LensCell } from './messages';
import type { AttentionLayer } from '../core/runtime/attentionLayer';
import { attentionGridMessage, attentionMessage } from './attention';

/** The parts of `Analysis` (src/core/runtime/analysis.ts) the messages need. */
export interface AnalysisLike {
  text: string;
  tokens: ScoredToken[];
  meanLoss: number;
  perplexity: number;
  window: AnalysisWindow;
  vocabSize: number;
  attention: AttentionData | null;
  attentionNote?: string;
  /** Set by an engine whose numbers are knowingly approximate. */
  approximate?: string;
  /** A layer's attention (fetched again when the memory budget let it go); absent without attention. */
  attentionLayer?(layer: number): Promise<AttentionLayer>;
  /** Async: the full row may have to be recomputed (the runtime keeps logits within a memory budget). */
  distribution(position: number, controls: SamplingControls, k: number): Promise<Candidate[] & { kept?: number }>;
}

/** The candidates as a plain array, and how many tokens survive the controls (all of them when not said). */
async function candidatesAt(a: AnalysisLike, position: number, controls: SamplingControls, k: number): Promise<{ candidates: Candidate[]; kept: number }> {
  const d = await a.distribution(position, controls, k);
  return { candidates: d.map((c) => ({ id: c.id, text: c.text, prob: c.prob, logit: c.logit })), kept: d.kept ?? a.vocabSize };
}

/** The panel opens on the last token: "what comes next" is the question it answers first. */
export async function analysisMessage(info: ModelInfo, a: AnalysisLike,
  opts: { controls: SamplingControls; k: number; selected?: number; gradientsNote?: string }): Promise<HostMessage<'analysis'>> {
  let selected = Math.min(a.tokens.length - 1, Math.max(0, opts.selected ?? a.tokens.length - 1));
  // A masked model has no "next": it opens on the first blank, or the first word, never on [CLS] or [SEP].
  if (info.objective === 'masked' && a.tokens[selected]?.special) {
    const blank = a.tokens.findIndex((t) => t.id === info.maskId);
    selected = blank >= 0 ? blank : Math.max(0, a.tokens.findIndex((t) => !t.special));
  }
  const candidates = await candidatesAt(a, selected, opts.controls, opts.k);
  return {
    type: 'analysis', model: info, text: a.text, tokens: a.tokens, meanLoss: a.meanLoss, perplexity: a.perplexity,
    window: a.window, selected, controls: opts.controls, ...candidates,
    attention: a.attention
      ? { available: true, layers: a.attention.layers, heads: a.attention.heads, size: a.attention.size }
      : { available: false, layers: 0, heads: 0, size: 0, note: a.attentionNote ?? info.attentionNote },
    ...(a.approximate ? { engineNote: a.approximate } : {}),
    ...(opts.gradientsNote ? { gradientsNote: opts.gradientsNote } : {}),
  };
}

export async function distributionMessage(a: AnalysisLike, position: number, controls: SamplingControls, k: number): Promise<HostMessage<'distribution'>> {
  return { type: 'distribution', position, controls, ...await candidatesAt(a, position, controls, k) };
}

/** The answer to `requestAttention`: the head's matrix and its layer's grid; null when attention is unavailable
 * or the layer/head is out of range (the validator bounds them only loosely). */
export async function attentionMessages(a: AnalysisLike, layer: number, head: number): Promise<[HostMessage<'attention'>, HostMessage<'attentionGrid'>] | null> {
  const att = a.attention;
  if (!att || !a.attentionLayer || layer >= att.layers || head >= att.heads) return null;
  const weights = await a.attentionLayer(layer);
  return [attentionMessage(weights, layer, head), attentionGridMessage(weights, layer)];
}

/** What the logit lens returns (src/core/lenses/logitLens.ts), or the note when the model has no hidden states. */
export type LogitLensLike = { layers: number; top: LensCell[][][]; decisionDepth: number[] } | { note: string };

export function logitLensMessage(a: Pick<AnalysisLike, 'text' | 'tokens'>, lens: LogitLensLike): HostMessage<'logitLens'> {
  const common = { type: 'logitLens' as const, text: a.text, tokens: a.tokens.map((t) => t.text) };
  if ('note' in lens) return { ...common, layers: 0, top: [], decisionDepth: [], note: lens.note };
  const cell = (c: LensCell): LensCell => ({ id: c.id, text: c.text, prob: c.prob });
  return { ...common, layers: lens.layers, top: lens.top.map((layer) => layer.map((cands) => cands.map(cell))),
    decisionDepth: [...lens.decisionDepth] };
}

/** What attribution returns (src/core/lenses/attribution.ts). */
export type AttributionLike = Omit<AttributionPayload, 'text' | 'tokens' | 'candidates'>;

/** How many candidates after the last token the Attribution tab offers as targets and contrasts. */
export const ATTRIBUTION_CANDIDATES = 10;

/** The attribution with the candidates after the last token, which the panel offers as targets and contrasts. */
export function attributionMessage(a: Pick<AnalysisLike, 'text' | 'tokens'> & { topK(position: number, k: number): Candidate[] },
  r: AttributionLike, k = ATTRIBUTION_CANDIDATES): HostMessage<'attribution'> {
  const ref = (t: { id: number; text: string }) => ({ id: t.id, text: t.text });
  return {
    type: 'attribution', text: a.text, tokens: a.tokens.map((t) => t.text), method: r.method, target: ref(r.target),
    contrast: r.contrast && ref(r.contrast), scores: [...r.scores], value: r.value, baselineValue: r.baselineValue,
    baseline: r.baseline, steps: r.steps,
    candidates: a.topK(a.tokens.length - 1, k).map((c) => ({ id: c.id, text: c.text, prob: c.prob })),
  };
}
