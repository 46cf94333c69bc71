// The one builder of the Explain panel's host->webview messages from a runtime Analysis: the host posts what
// these return and the browser tests' fixtures are recorded from them. Typed structurally, so this module stays
// browser-safe. Every field is a plain value: postMessage copies data, not the extra properties of an array.
import type { AnalysisWindow, AttentionData, Candidate, ModelInfo, SamplingControls, ScoredToken } from '../core/types';
import type { AttentionLayer } from '../core/runtime/attentionLayer';
import type { HostMessage } from './messages';
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
  opts: { controls: SamplingControls; k: number; selected?: number }): Promise<HostMessage<'analysis'>> {
  const selected = Math.min(a.tokens.length - 1, Math.max(0, opts.selected ?? a.tokens.length - 1));
  const candidates = await candidatesAt(a, selected, opts.controls, opts.k);
  return {
    type: 'analysis', model: info, text: a.text, tokens: a.tokens, meanLoss: a.meanLoss, perplexity: a.perplexity,
    window: a.window, selected, controls: opts.controls, ...candidates,
    attention: a.attention
      ? { available: true, layers: a.attention.layers, heads: a.attention.heads, size: a.attention.size }
      : { available: false, layers: 0, heads: 0, size: 0, note: a.attentionNote ?? info.attentionNote },
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
