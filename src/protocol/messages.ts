// Every message between the extension host and the webviews, as one discriminated union per direction.
// The host builds analysis, distribution and attention messages only through fromAnalysis.ts.
// Browser-safe: imports types only, so the webview bundle carries no Node or vscode code.
import type { AnalysisWindow, Candidate, ModelInfo, SamplingControls, ScoredToken } from '../core/types';

/** What the Explain panel knows about attention before it asks for any matrix. */
export interface AttentionSummary {
  available: boolean;
  layers: number;
  heads: number;
  /** T: the number of tokens the attention matrices cover. */
  size: number;
  /** Why attention is unavailable (e.g. the export fuses attention into one op). */
  note?: string;
}

// ---- host -> webview -------------------------------------------------------------------------------

export interface HostMessages {
  /** A fresh analysis of the panel's text. `candidates` is the distribution after `tokens[selected]`. */
  analysis: {
    model: ModelInfo;
    text: string;
    tokens: ScoredToken[];
    meanLoss: number;
    perplexity: number;
    window: AnalysisWindow;
    selected: number;
    controls: SamplingControls;
    candidates: Candidate[];
    /** How many tokens of the vocabulary survive top-k and top-p. */
    kept: number;
    attention: AttentionSummary;
  };
  /** The exact renormalised distribution after `tokens[position]` under `controls`. */
  distribution: {
    position: number;
    controls: SamplingControls;
    candidates: Candidate[];
    /** How many tokens of the vocabulary survive top-k and top-p. */
    kept: number;
  };
  /** One head's T x T attention probabilities, row-major (query row, key column). The host posts a Float32Array
   *  (sent as binary); recorded fixtures and saved state have plain numbers. */
  attention: { layer: number; head: number; size: number; weights: Float32Array | number[] };
  /** Every head of a layer, each downsampled (block mean) to `size` x `size` with size <= 32. */
  attentionGrid: { layer: number; size: number; heads: number[][] };
  /** Work in progress (loading a model, analysing); an empty message clears it. */
  busy: { message: string };
  error: { message: string; detail?: string };
}

// ---- webview -> host -------------------------------------------------------------------------------

export interface WebviewMessages {
  /** The webview has rendered its saved state and listens; the host (re)sends the analysis. */
  ready: Record<never, never>;
  /** Show the distribution after `tokens[position]`: the host answers with `distribution`. */
  selectPosition: { position: number };
  /** New sampling controls: the host answers with `distribution` for the selected position. */
  setControls: SamplingControls;
  /** The host answers with `attention` for the head and `attentionGrid` for the layer. */
  requestAttention: { layer: number; head: number };
  /** Step-through generation: append the token to the panel's text (not the document) and analyse again. */
  appendToken: { tokenId: number; text: string };
  /** Insert text at the editor's cursor; sent only on an explicit user action. */
  insertIntoDocument: { text: string };
  copy: { text: string };
}

type Union<M> = { [K in keyof M]: { type: K } & M[K] }[keyof M];
export type HostToWebview = Union<HostMessages>;
export type WebviewToHost = Union<WebviewMessages>;
export type HostMessage<K extends keyof HostMessages> = { type: K } & HostMessages[K];
export type WebviewMessage<K extends keyof WebviewMessages> = { type: K } & WebviewMessages[K];

/** Message names as constants, so both sides spell them the same way. */
export const HostMessageType = {
  analysis: 'analysis',
  distribution: 'distribution',
  attention: 'attention',
  attentionGrid: 'attentionGrid',
  busy: 'busy',
  error: 'error',
} as const satisfies { [K in keyof HostMessages]: K };

export const WebviewMessageType = {
  ready: 'ready',
  selectPosition: 'selectPosition',
  setControls: 'setControls',
  requestAttention: 'requestAttention',
  appendToken: 'appendToken',
  insertIntoDocument: 'insertIntoDocument',
  copy: 'copy',
} as const satisfies { [K in keyof WebviewMessages]: K };

/** Typed constructors: `hostMessage('busy', { message: 'Loading…' })`. */
export function hostMessage<K extends keyof HostMessages>(type: K, payload: HostMessages[K]): HostMessage<K> {
  return { type, ...payload } as HostMessage<K>;
}

export function webviewMessage<K extends keyof WebviewMessages>(type: K, payload: WebviewMessages[K]): WebviewMessage<K> {
  return { type, ...payload } as WebviewMessage<K>;
}
