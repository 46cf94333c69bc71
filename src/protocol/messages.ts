// Every message between the extension host and the webviews, as one discriminated union per direction.
// The host builds analysis, distribution and attention messages only through fromAnalysis.ts.
// Browser-safe: imports types only, so the webview bundle carries no Node or vscode code.
import type { AnalysisWindow, Candidate, ModelInfo, SamplingControls, ScoredToken } from '../core/types';
import type { CompareHostMessages, CompareWebviewMessages } from './compare';

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

export interface HostMessages extends CompareHostMessages {
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
    /** What the engine says about these numbers (e.g. llama.cpp's fast mode: approximate), shown as a note. */
    engineNote?: string;
    /** Why the engine has no gradient attribution (llama.cpp, a server): the Attribution tab offers occlusion only, with this note. */
    gradientsNote?: string;
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
  /** The logit lens of `text` (see LogitLensPayload); `note` instead of a grid when the model has no hidden states. */
  logitLens: LogitLensPayload;
  /** Why the next token after `text`: one raw score per token (see AttributionPayload). */
  attribution: AttributionPayload;
  /** A lens at work (done of total), cancelled or failed; `message` says which in words. */
  lensStatus: { lens: LensName; status: 'running' | 'cancelled' | 'failed'; message: string; done: number; total: number };
  /** Bring a tab to the front ("Why This Token?" opens on Attribution). */
  showTab: { tab: PanelTab };
}

/** The panel's tabs, in order. The Compare tab is filled by its own module. */
export const PANEL_TABS = ['distribution', 'attention', 'logitLens', 'attribution', 'compare'] as const;
export type PanelTab = typeof PANEL_TABS[number];
export type LensName = 'logitLens' | 'attribution';
export const ATTRIBUTION_METHOD_NAMES = ['occlusion', 'gradient', 'integrated-gradients'] as const;
export type AttributionMethodName = typeof ATTRIBUTION_METHOD_NAMES[number];

export interface LensCell { id: number; text: string; prob: number }

export interface LogitLensPayload {
  /** The text the lens read, and its tokens' texts (the grid's columns). */
  text: string;
  tokens: string[];
  /** Blocks: top[l] reads the residual stream after block l; top[layers - 1] is the model's own output. */
  layers: number;
  /** top[layer][position]: the k likeliest next tokens, by falling probability. */
  top: LensCell[][][];
  /** Per position: the first layer from which the final top-1 stays top-1. */
  decisionDepth: number[];
  /** Why there is no grid (the export has no hidden states); layers is then 0. */
  note?: string;
}

export interface AttributionPayload {
  text: string;
  tokens: string[];
  method: AttributionMethodName;
  target: { id: number; text: string };
  contrast: { id: number; text: string } | null;
  /** One per token, raw: signed, not normalised. */
  scores: number[];
  /** f on the text: log p(target), or logit(target) - logit(contrast). */
  value: number;
  baselineValue: number | null;
  baseline: string | null;
  steps: number | null;
  /** The distribution after the last token: the targets and contrasts to pick from. */
  candidates: LensCell[];
}

// ---- webview -> host -------------------------------------------------------------------------------

export interface WebviewMessages extends CompareWebviewMessages {
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
  /** Run the logit lens on the panel's text: the host answers with lensStatus messages, then `logitLens`. */
  requestLogitLens: Record<never, never>;
  /** Attribute the next token after the panel's text; target null: the top-1; contrast null: log p(target). */
  requestAttribution: { method: AttributionMethodName; target: number | null; contrast: number | null; steps: number };
  /** Stop the lens at work (its lensStatus says cancelled). */
  cancelLens: Record<never, never>;
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
  logitLens: 'logitLens',
  attribution: 'attribution',
  lensStatus: 'lensStatus',
  showTab: 'showTab',
  comparison: 'comparison',
} as const satisfies { [K in keyof HostMessages]: K };

export const WebviewMessageType = {
  ready: 'ready',
  selectPosition: 'selectPosition',
  setControls: 'setControls',
  requestAttention: 'requestAttention',
  appendToken: 'appendToken',
  insertIntoDocument: 'insertIntoDocument',
  copy: 'copy',
  requestLogitLens: 'requestLogitLens',
  requestAttribution: 'requestAttribution',
  cancelLens: 'cancelLens',
  compareWith: 'compareWith',
} as const satisfies { [K in keyof WebviewMessages]: K };

/** Typed constructors: `hostMessage('busy', { message: 'Loading…' })`. */
export function hostMessage<K extends keyof HostMessages>(type: K, payload: HostMessages[K]): HostMessage<K> {
  return { type, ...payload } as HostMessage<K>;
}

export function webviewMessage<K extends keyof WebviewMessages>(type: K, payload: WebviewMessages[K]): WebviewMessage<K> {
  return { type, ...payload } as WebviewMessage<K>;
}
