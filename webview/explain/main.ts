// The Explain panel: renders an analysis from the host and turns clicks and keys into protocol messages.
// Importing the stylesheet makes esbuild emit dist/webview/explain.css beside the script.
import '../../media/explain.css';
import './elements';
import { h, keepingFocus, mount } from '../shared/dom';
import { connect } from '../shared/vscode';
import type { Candidate, SamplingControls } from '../../src/core/types';
import { type ExplainState, initialState, reduce } from './state';
import { lossLegend, selectionSummary, tokenStrip } from './tokens';
import { blankSummary, distributionTitle, isMasked } from './masked';
import { distributionTable, samplingControls } from './distribution';
import { lossChart } from './lossChart';
import { attentionView } from './attention';
import { teachingNotes } from './notes';
import { quote } from './format';
import { panelTabs } from './tabs';
import { logitLensView } from './logitLensView';
import { attributionView } from './attributionView';
import type { LensName, PanelTab } from '../../src/protocol/messages';
import { compareSection } from './compare';
import { collapsible } from '../shared/controls';
import type { ComparisonPayload } from '../../src/protocol/compare';

const host = connect<ExplainState>();
let state: ExplainState = restored(host.getState());
let awaitingDistribution = false;
/** The text each lens was last asked about on its own (opening its tab), so it is asked once per text. */
const asked: { [L in LensName]?: string } = {};
/** The token whose attribution score is read out. */
let attrActive = 0;

/** The saved state; a lens that was running when the panel was hidden has lost its answer, so it is asked again. */
function restored(saved: ExplainState | undefined): ExplainState {
  const s = { ...initialState(), ...(saved ?? {}) };
  const idle = (st: ExplainState['lensStatus'][LensName]) => (st?.status === 'running' ? null : st);
  return { ...s, lensStatus: { logitLens: idle(s.lensStatus.logitLens), attribution: idle(s.lensStatus.attribution) } };
}

const app = document.getElementById('app') ?? document.body.appendChild(h('main', { id: 'app' }));
const section = (id: string, title: string, ...extra: HTMLElement[]) => {
  const body = h('div', { class: 'section-body' });
  const el = h('section', { id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...extra, body);
  return { el, body };
};
const progress = h('div', { class: 'progress', role: 'progressbar', 'aria-hidden': 'true' });
const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
const header = h('header', { class: 'header' });
const tokensSec = section('tokens', 'Tokens', lossLegend());
const nextSec = section('next', 'Next token');
const controlsBox = h('div', { class: 'controls-box' });
const distBox = h('div', {});
nextSec.body.append(controlsBox, distBox);
const lossSec = section('loss', 'Loss per token');
const attSec = section('attn', 'Attention');
const notesSec = section('notes', 'How it works');
const compareSec = section('compare', 'Compare: the same text under two models');
const lensSec = section('lens', 'Logit lens: the prediction after each block');
const attrSec = section('attrib', 'Attribution: why this next token?');
const tabs = panelTabs(showTab);
tabs.panels.distribution.append(h('div', { class: 'columns' },
  h('div', { class: 'col' }, nextSec.el, notesSec.el),
  h('div', { class: 'col' }, lossSec.el)));
tabs.panels.attention.append(attSec.el);
tabs.panels.logitLens.append(lensSec.el);
tabs.panels.attribution.append(attrSec.el);
tabs.panels.compare.append(compareSec.el);
mount(app, progress, header, status, tokensSec.el, tabs.el);
tabs.show(state.tab);
/** The last comparison the host sent (kept only while the panel lives: the host sends it again when asked). */
let comparison: ComparisonPayload | null = null;
app.removeAttribute('aria-busy');

function save(): void {
  host.setState(state);
}


function select(position: number): void {
  if (!state.analysis || position < 0 || position >= state.analysis.tokens.length || position === state.selected) return;
  // analysis.selected too: the host restores a reloaded panel from the saved analysis.
  state = { ...state, selected: position, analysis: { ...state.analysis, selected: position } };
  awaitingDistribution = true;
  host.post({ type: 'selectPosition', position });
  save();
  renderSelection();
}

function setControls(c: SamplingControls): void {
  const reset = c.temperature === 1 && c.topK === 0 && c.topP === 1;
  state = { ...state, controls: c };
  awaitingDistribution = true;
  host.post({ type: 'setControls', ...c });
  save();
  if (reset) renderControls();
  renderDistribution();
}

function pickAttention(layer: number, head: number): void {
  state = { ...state, layer, head, attention: null, grid: state.grid?.layer === layer ? state.grid : null };
  host.post({ type: 'requestAttention', layer, head });
  save();
  keepingFocus(renderAttention);
}

function append(c: Candidate): void {
  state = { ...state, appending: true };
  host.post({ type: 'appendToken', tokenId: c.id, text: c.text });
  save();
  renderHeader();
}

/** A local folder shows as its last segment (the full path is in the tooltip); Hub ids stay as they are. */
const modelName = (id: string): string => (/^([a-zA-Z]:)?[\\/]/.test(id) ? id.split(/[\\/]/).filter(Boolean).pop() ?? id : id);

function renderHeader(): void {
  const a = state.analysis;
  progress.classList.toggle('active', state.busy !== '' || state.appending);
  status.textContent = state.busy || (state.appending ? 'Appending and analysing…' : '');
  if (!a) {
    mount(header, h('div', { class: 'empty' }, h('h1', {}, 'Token Lens'),
      h('p', {}, 'Run “Token Lens: Explain Next Token” (Ctrl+Alt+E) in an editor to see what the model predicts.')));
  } else {
    const appended = a.text.startsWith(state.baseText) ? a.text.slice(state.baseText.length) : '';
    const w = a.window;
    mount(header,
      h('div', { class: 'model' },
        h('span', { class: 'model-id', title: a.model.id }, modelName(a.model.id)),
        h('span', { class: 'badge' }, a.model.arch),
        h('span', { class: 'muted' }, `${a.model.layers} layers · ${a.model.heads} heads · vocab ${a.model.vocabSize} · context ${a.model.contextLength}`)),
      h('div', { class: 'actions' },
        appended ? h('vscode-button', { id: 'insert', title: `Insert ${quote(appended)} at the cursor`,
          onclick: () => host.post({ type: 'insertIntoDocument', text: appended }) }, 'Insert appended text') : null,
        h('vscode-button', { id: 'copy-text', secondary: true, onclick: () => host.post({ type: 'copy', text: a.text }) }, 'Copy text')),
      a.engineNote ? h('p', { class: 'notice engine-note', role: 'note' }, a.engineNote) : null,
      w.truncated ? h('p', { class: 'notice', role: 'note' },
        `The text has ${w.counted ? '' : 'about '}${w.totalTokens} tokens, more than the model's context: tokens ${w.firstToken}–${w.firstToken + a.tokens.length - 1} are analysed.`) : null);
  }
  if (state.error) {
    header.append(h('div', { class: 'error', role: 'alert' }, h('strong', {}, state.error.message),
      state.error.detail ? collapsible('Details', false, null, { class: 'error-detail' }, h('pre', {}, state.error.detail)) : null));
  }
}

function renderTokens(): void {
  const a = state.analysis;
  if (!a) return mount(tokensSec.body, h('p', { class: 'muted' }, 'No analysis yet.'));
  keepingFocus(() => mount(tokensSec.body,
    Object.assign(tokenStrip(a.tokens, state.selected, select), { id: 'token-strip' }),
    isMasked(a.model) ? blankSummary(a.tokens, state.selected, a.model) : selectionSummary(a.tokens, state.selected)));
}

function renderControls(): void {
  const a = state.analysis;
  keepingFocus(() => mount(controlsBox, a ? samplingControls(state.controls, a.model.vocabSize, setControls) : null));
}

function renderDistribution(): void {
  const a = state.analysis;
  if (!a) return mount(distBox);
  const masked = isMasked(a.model);
  const last = state.selected === a.tokens.length - 1;
  nextSec.el.querySelector('h2')!.textContent = distributionTitle(a.model);
  keepingFocus(() => mount(distBox, distributionTable({
    candidates: state.candidates, kept: state.kept, controls: state.controls, vocabSize: a.model.vocabSize,
    // A masked model's distribution is for the selected token itself, and a blank is not appended to.
    actualNext: a.tokens[masked ? state.selected : state.selected + 1], canAppend: !masked && last && !state.appending,
    onControls: setControls, onAppend: append, onCopy: (text) => host.post({ type: 'copy', text }),
  })));
  distBox.classList.toggle('stale', awaitingDistribution);
  distBox.querySelectorAll<HTMLButtonElement>('.cand-button').forEach((b, i) => { b.id = `cand-${i}`; });
}

function width(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.getBoundingClientRect().width || 600));
}

function renderLoss(): void {
  const a = state.analysis;
  if (!a) return mount(lossSec.body);
  mount(lossSec.body, lossChart(a.tokens, a.meanLoss, a.perplexity, state.selected, width(lossSec.body), select, isMasked(a.model) ? 0 : 1));
}

function renderAttention(): void {
  const a = state.analysis;
  if (!a) return mount(attSec.body);
  mount(attSec.body, attentionView({
    summary: a.attention, tokens: a.tokens, selected: state.selected, layer: state.layer, head: state.head,
    matrix: state.attention, grid: state.grid, width: width(attSec.body), onPick: pickAttention, onSelectRow: select,
  }));
  attSec.body.querySelector('canvas.heatmap')?.setAttribute('id', 'heatmap');
  attSec.body.querySelectorAll('.head-thumb').forEach((b, i) => b.setAttribute('id', `head-${i}`));
}

function renderLogitLens(): void {
  const a = state.analysis;
  if (!a) return mount(lensSec.body);
  keepingFocus(() => mount(lensSec.body, logitLensView({
    lens: state.logitLens, status: state.lensStatus.logitLens, cell: state.lensCell, selected: state.selected,
    onRun: () => requestLens('logitLens'), onCancel: () => host.post({ type: 'cancelLens' }),
    onPick: (layer, position) => { state = { ...state, lensCell: { layer, position } }; save(); renderLogitLens(); },
  })));
}

function renderAttribution(): void {
  const a = state.analysis;
  if (!a) return mount(attrSec.body);
  keepingFocus(() => mount(attrSec.body, attributionView({
    result: state.attribution, request: state.attributionRequest, status: state.lensStatus.attribution, active: attrActive,
    gradientsNote: a.gradientsNote,
    // The selects call back after their own event handling (shared/controls.ts), so this may re-render them.
    onRequest: (r) => { state = { ...state, attributionRequest: r }; requestLens('attribution'); },
    onCancel: () => host.post({ type: 'cancelLens' }),
    onActive: (i) => { attrActive = i; renderAttribution(); },
  })));
}

/** Asks the host for a lens of the current text; its status and answer re-render the tab. */
function requestLens(lens: LensName): void {
  const a = state.analysis;
  if (!a) return;
  asked[lens] = a.text;
  if (lens === 'logitLens') host.post({ type: 'requestLogitLens' });
  else host.post({ type: 'requestAttribution', ...state.attributionRequest });
  state = { ...state, lensStatus: { ...state.lensStatus, [lens]: { type: 'lensStatus', lens, status: 'running', message: 'Starting…', done: 0, total: 0 } } };
  save();
  if (lens === 'logitLens') renderLogitLens();
  else renderAttribution();
}

/** A lens tab in front runs its lens once per text. */
function runShownLens(): void {
  const a = state.analysis;
  const lens: LensName | undefined = state.tab === 'logitLens' ? 'logitLens' : state.tab === 'attribution' ? 'attribution' : undefined;
  if (!a || !lens) return;
  const have = lens === 'logitLens' ? state.logitLens : state.attribution;
  if (have?.text === a.text || asked[lens] === a.text || state.lensStatus[lens]?.status === 'running') return;
  requestLens(lens);
}

function showTab(tab: PanelTab): void {
  state = { ...state, tab };
  save();
  tabs.show(tab);
  // A hidden tab had no width: its canvases are drawn again at the real one.
  if (tab === 'distribution') renderLoss();
  if (tab === 'attention') keepingFocus(renderAttention);
  if (tab === 'compare') renderCompare();
  runShownLens();
}

function renderCompare(): void {
  const analysed = state.analysis !== null;
  mount(compareSec.body, ...(analysed ? compareSection(comparison, width(compareSec.body), () => host.post({ type: 'compareWith' })) : []));
}

function renderSelection(): void {
  renderTokens();
  renderDistribution();
  renderLoss();
  keepingFocus(renderAttention);
  if (state.tab === 'logitLens') renderLogitLens();
}

function renderAll(): void {
  renderHeader();
  renderTokens();
  renderControls();
  renderDistribution();
  renderLoss();
  renderAttention();
  renderLogitLens();
  renderAttribution();
  renderCompare();
  mount(notesSec.body, teachingNotes(state.openNotes, (id, open) => {
    state = { ...state, openNotes: open ? [...new Set([...state.openNotes, id])] : state.openNotes.filter((n) => n !== id) };
    save();
  }));
}

window.addEventListener('message', (event: MessageEvent) => {
  const msg = event.data;
  if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return;
  if (msg.type === 'comparison') {
    comparison = msg as ComparisonPayload;
    renderCompare();
    return;
  }
  const before = state;
  state = reduce(state, msg);
  if (state === before) return;
  save();
  switch (msg.type) {
    case 'analysis':
      awaitingDistribution = false;
      // A comparison is of one text: a new text waits for its own (the host sends it after the analysis).
      if (before.analysis?.text !== state.analysis?.text) comparison = null;
      renderAll();
      if (state.analysis?.attention.available && !state.attention) host.post({ type: 'requestAttention', layer: state.layer, head: state.head });
      runShownLens();
      break;
    case 'logitLens':
      renderLogitLens();
      break;
    case 'attribution':
      attrActive = state.attribution ? state.attribution.tokens.length - 1 : 0;
      renderAttribution();
      break;
    case 'lensStatus':
      if (msg.lens === 'logitLens') renderLogitLens();
      else renderAttribution();
      break;
    case 'showTab':
      showTab(state.tab);
      break;
    case 'distribution':
      awaitingDistribution = false;
      renderDistribution();
      break;
    case 'attention':
    case 'attentionGrid':
      keepingFocus(renderAttention);
      break;
    default:
      renderHeader();
  }
});

// Canvas and SVG sizes follow the panel width; theme switches change the colours canvases baked in.
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
let lastWidth = 0;
new ResizeObserver(() => {
  const w = width(lossSec.body);
  if (w === lastWidth) return;
  lastWidth = w;
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { renderLoss(); keepingFocus(renderAttention); keepingFocus(renderCompare); }, 100);
}).observe(app);
new MutationObserver(() => keepingFocus(renderAttention)).observe(document.body, { attributes: true, attributeFilter: ['class'] });

renderAll();
host.post({ type: 'ready' });
