// Everything the panel shows, as one plain object: saved with setState so the panel re-renders
// the same view after it is hidden and shown again (no retainContextWhenHidden).
import type { AttributionMethodName, HostMessages, LensName, PanelTab } from '../../src/protocol/messages';
import type { Candidate, SamplingControls } from '../../src/core/types';

export type AnalysisPayload = HostMessages['analysis'];

export interface ExplainState {
  analysis: AnalysisPayload | null;
  /** Position whose next-token distribution is shown. */
  selected: number;
  controls: SamplingControls;
  candidates: Candidate[];
  /** Tokens surviving top-k/top-p, when the host said. */
  kept?: number;
  layer: number;
  head: number;
  attention: HostMessages['attention'] | null;
  grid: HostMessages['attentionGrid'] | null;
  /** Text before any step-through appends; what was appended since can be inserted into the document. */
  baseText: string;
  /** A token was appended and its analysis has not arrived yet. */
  appending: boolean;
  busy: string;
  error: HostMessages['error'] | null;
  openNotes: string[];
  /** The tab in front. */
  tab: PanelTab;
  logitLens: HostMessages['logitLens'] | null;
  /** The grid cell whose top-k is shown. */
  lensCell: { layer: number; position: number } | null;
  attribution: HostMessages['attribution'] | null;
  /** What the Attribution tab asks for next (target/contrast null: the top-1 / none). */
  attributionRequest: AttributionRequest;
  /** A lens at work, cancelled or failed (null: idle). */
  lensStatus: { [L in LensName]: HostMessages['lensStatus'] | null };
}

export interface AttributionRequest { method: AttributionMethodName; target: number | null; contrast: number | null; steps: number }

export const DEFAULT_CONTROLS: SamplingControls = { temperature: 1, topK: 0, topP: 1 };

export function initialState(): ExplainState {
  return {
    analysis: null, selected: 0, controls: { ...DEFAULT_CONTROLS }, candidates: [],
    layer: 0, head: 0, attention: null, grid: null, baseText: '', appending: false,
    busy: '', error: null, openNotes: [],
    tab: 'distribution', logitLens: null, lensCell: null, attribution: null,
    attributionRequest: { method: 'occlusion', target: null, contrast: null, steps: 64 },
    lensStatus: { logitLens: null, attribution: null },
  };
}

export const sameControls = (a: SamplingControls, b: SamplingControls): boolean =>
  Math.abs(a.temperature - b.temperature) < 1e-9 && a.topK === b.topK && Math.abs(a.topP - b.topP) < 1e-9;

/** Folds a host message into the state. Pure, so it is testable without a DOM. */
export function reduce(state: ExplainState, msg: { type: string } & Record<string, unknown>): ExplainState {
  switch (msg.type) {
    case 'analysis': {
      const a = msg as unknown as AnalysisPayload;
      const continues = state.appending && state.analysis !== null && a.text.startsWith(state.analysis.text);
      const layers = a.attention.available ? a.attention.layers : 0;
      const heads = a.attention.available ? a.attention.heads : 0;
      // The host re-sends the same analysis when a hidden panel comes back: keep the matrices it showed.
      const same = state.analysis !== null && state.analysis.text === a.text && state.analysis.model.id === a.model.id;
      // An engine without gradients runs occlusion only: a gradient method asked before gives way, its result too.
      const occlusionOnly = !!a.gradientsNote && state.attributionRequest.method !== 'occlusion';
      return {
        ...state, analysis: a, selected: a.selected, controls: a.controls, candidates: a.candidates, kept: a.kept,
        baseText: continues ? state.baseText : a.text, appending: false, busy: '', error: null,
        layer: Math.min(state.layer, Math.max(0, layers - 1)), head: Math.min(state.head, Math.max(0, heads - 1)),
        attention: same ? state.attention : null, grid: same ? state.grid : null,
        // The lenses read one text on one model: another analysis starts them afresh, on its own top-1.
        attributionRequest: {
          ...(same ? state.attributionRequest : { ...state.attributionRequest, target: null, contrast: null }),
          ...(occlusionOnly ? { method: 'occlusion' as const } : {}),
        },
        logitLens: same ? state.logitLens : null, lensCell: same ? state.lensCell : null,
        attribution: same && !occlusionOnly ? state.attribution : null,
      };
    }
    case 'distribution': {
      const d = msg as unknown as HostMessages['distribution'];
      // Only the answer to the latest request counts; older ones may arrive late.
      if (d.position !== state.selected || !sameControls(d.controls, state.controls)) return state;
      return { ...state, candidates: d.candidates, kept: d.kept };
    }
    case 'attention': {
      const m = msg as unknown as HostMessages['attention'];
      if (m.layer !== state.layer || m.head !== state.head) return state;
      // The host sends a Float32Array; the state stays plain data, which setState saves as JSON.
      return { ...state, attention: { ...m, weights: Array.from(m.weights) } };
    }
    case 'attentionGrid': {
      const m = msg as unknown as HostMessages['attentionGrid'];
      if (m.layer !== state.layer) return state;
      return { ...state, grid: m };
    }
    case 'logitLens': {
      const m = msg as unknown as HostMessages['logitLens'];
      return { ...state, logitLens: m, lensCell: null, lensStatus: { ...state.lensStatus, logitLens: null } };
    }
    case 'attribution': {
      const m = msg as unknown as HostMessages['attribution'];
      return { ...state, attribution: m, lensStatus: { ...state.lensStatus, attribution: null } };
    }
    case 'lensStatus': {
      const m = msg as unknown as HostMessages['lensStatus'];
      return { ...state, lensStatus: { ...state.lensStatus, [m.lens]: m } };
    }
    case 'showTab':
      return { ...state, tab: (msg as unknown as HostMessages['showTab']).tab };
    case 'busy':
      return { ...state, busy: String(msg.message ?? '') };
    case 'error':
      return { ...state, busy: '', appending: false, error: msg as unknown as HostMessages['error'] };
    default:
      return state;
  }
}
