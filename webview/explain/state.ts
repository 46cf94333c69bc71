// Everything the panel shows, as one plain object: saved with setState so the panel re-renders
// the same view after it is hidden and shown again (no retainContextWhenHidden).
import type { HostMessages } from '../../src/protocol/messages';
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
}

export const DEFAULT_CONTROLS: SamplingControls = { temperature: 1, topK: 0, topP: 1 };

export function initialState(): ExplainState {
  return {
    analysis: null, selected: 0, controls: { ...DEFAULT_CONTROLS }, candidates: [],
    layer: 0, head: 0, attention: null, grid: null, baseText: '', appending: false,
    busy: '', error: null, openNotes: [],
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
      return {
        ...state, analysis: a, selected: a.selected, controls: a.controls, candidates: a.candidates, kept: a.kept,
        baseText: continues ? state.baseText : a.text, appending: false, busy: '', error: null,
        layer: Math.min(state.layer, Math.max(0, layers - 1)), head: Math.min(state.head, Math.max(0, heads - 1)),
        attention: same ? state.attention : null, grid: same ? state.grid : null,
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
    case 'busy':
      return { ...state, busy: String(msg.message ?? '') };
    case 'error':
      return { ...state, busy: '', appending: false, error: msg as unknown as HostMessages['error'] };
    default:
      return state;
  }
}
