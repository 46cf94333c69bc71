// Builds host->webview messages from a runtime Analysis. Typed structurally, so this module stays browser-safe.
import type { AnalysisWindow, AttentionData, Candidate, ModelInfo, SamplingControls, ScoredToken } from '../core/types';
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
  /** Async: the full row may have to be recomputed (the runtime keeps logits within a memory budget). */
  distribution(position: number, controls: SamplingControls, k: number): Promise<Candidate[] & { kept?: number }>;
}

/** The panel opens on the last token: "what comes next" is the question it answers first. */
export async function analysisMessage(info: ModelInfo, a: AnalysisLike,
  opts: { controls: SamplingControls; k: number; selected?: number }): Promise<HostMessage<'analysis'>> {
  const selected = Math.min(a.tokens.length - 1, Math.max(0, opts.selected ?? a.tokens.length - 1));
  const d = await a.distribution(selected, opts.controls, opts.k);
  return {
    type: 'analysis', model: info, text: a.text, tokens: a.tokens, meanLoss: a.meanLoss, perplexity: a.perplexity,
    window: a.window, selected, controls: opts.controls, candidates: [...d], kept: d.kept,
    attention: a.attention
      ? { available: true, layers: a.attention.layers, heads: a.attention.heads, size: a.attention.size }
      : { available: false, layers: 0, heads: 0, size: 0, note: a.attentionNote ?? info.attentionNote },
  };
}

export async function distributionMessage(a: AnalysisLike, position: number, controls: SamplingControls, k: number): Promise<HostMessage<'distribution'>> {
  const d = await a.distribution(position, controls, k);
  return { type: 'distribution', position, controls, candidates: [...d], kept: d.kept };
}

/** The answer to `requestAttention`: the head's matrix and its layer's grid; null when attention is unavailable
 * or the layer/head is out of range (the validator bounds them only loosely). */
export function attentionMessages(a: AnalysisLike, layer: number, head: number): [HostMessage<'attention'>, HostMessage<'attentionGrid'>] | null {
  const att = a.attention;
  if (!att || layer >= att.layers || head >= att.heads) return null;
  return [attentionMessage(att, layer, head), attentionGridMessage(att, layer)];
}
