// The Toy Fine-tune view: choose data, model and hyperparameters; watch the loss fall; compare the probe.
// Importing the stylesheet makes esbuild emit dist/webview/finetune.css beside the script.
import '../../media/finetune.css';
import '../shared/elements';
// The probe's prompt is the only text area of the webviews: registered here, not bundled into the Explain panel.
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import { h, keepingFocus, mount } from '../shared/dom';
import { button, select } from '../shared/controls';
import { connect } from '../shared/vscode';
import { FT_LIMITS, FT_RANGES, isActive, rangeProblem, type FineTuneHostToView, type FineTuneSettings, type FineTuneViewToHost,
  type RangedSetting } from '../../src/protocol/finetune';
import { curveLegend, lossCurve } from './lossCurve';
import { probeView } from './probeView';
import { type FineTuneViewState, initialState, isPreset, reduce, withBase } from './state';

const host = connect<FineTuneViewState>();
let state: FineTuneViewState = { ...initialState(), ...(host.getState() ?? {}) };
// The shared host handle is typed for the Explain protocol; this view speaks its own.
const post = (m: FineTuneViewToHost) => host.post(m as never);

const app = document.getElementById('app') ?? document.body.appendChild(h('main', { id: 'app' }));
const section = (id: string, title: string) => {
  const body = h('div', { class: 'section-body' });
  return { el: h('section', { id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), body), body };
};
const data = section('ft-data', 'Training data');
const model = section('ft-model', 'Model');
const hyper = section('ft-hyper', 'Hyperparameters');
const probe = section('ft-probe', 'Probe');
const controls = h('div', { class: 'run-controls' });
const status = h('div', { class: 'status', id: 'ft-status', role: 'status', 'aria-live': 'polite' });
const progress = section('ft-progress', 'Training');
const results = section('ft-results', 'Before and after');
mount(app, data.el, model.el, hyper.el, probe.el, controls, status, progress.el, results.el);
app.removeAttribute('aria-busy');

function save(): void {
  host.setState(state);
}


function setForm(patch: Partial<FineTuneSettings>): void {
  state = { ...state, form: { ...state.form, ...patch } };
  save();
}

const basename = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

function field(id: string, label: string, input: HTMLElement | HTMLElement[], hint?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), ...[input].flat(), hint ? h('span', { class: 'hint' }, hint) : null);
}

/** The problem with what the user typed into a number field (an empty field is no number). */
function rangeProblemOf(field: RangedSetting, raw: string): string | null {
  return rangeProblem(field, raw.trim() === '' ? Number.NaN : Number(raw));
}

const invalidFields = (): RangedSetting[] => (Object.keys(state.drafts) as RangedSetting[]);

/**
 * A number field and its error line, checked on every keystroke: an allowed value goes to the form at once; any other
 * stays as typed (a draft), with a message that gives the range, and keeps Start disabled.
 */
function numberInput(field: RangedSetting, id: string, step: string): HTMLElement[] {
  const r = FT_RANGES[field];
  const draft = state.drafts[field];
  const input = h('vscode-textfield', { id, type: 'number', value: draft ?? state.form[field], min: r.min, max: r.max,
    'aria-describedby': `${id}-error` }) as HTMLElement & { value: string; invalid: boolean; label: string; step: unknown };
  input.label = r.label;
  // The component types `step` as a number; "any" (a learning rate has no step) goes through as the property.
  input.step = step === 'any' ? 'any' : Number(step);
  const error = h('span', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const show = (problem: string | null) => {
    error.textContent = problem ?? '';
    input.invalid = !!problem;
    input.setAttribute('aria-invalid', String(!!problem));
  };
  input.addEventListener('input', () => {
    const problem = rangeProblemOf(field, input.value);
    show(problem);
    const { [field]: _, ...drafts } = state.drafts;
    state = { ...state, drafts: problem ? { ...drafts, [field]: input.value } : drafts };
    if (!problem) state = { ...state, form: { ...state.form, [field]: Number(input.value) } };
    save();
    keepingFocus(renderControls);
  });
  if (draft !== undefined) show(rangeProblemOf(field, draft));
  return [input, error];
}

function renderForm(): void {
  const { form, context } = state;
  const locked = isActive(state.run.phase);
  // Training data
  const file = context?.file;
  mount(data.body,
    h('p', { class: 'file', id: 'ft-file', title: file?.path ?? '' }, file ? file.name : h('span', { class: 'muted' }, 'No file chosen.')),
    context?.fileProblem ? h('p', { class: 'error', role: 'alert' }, context.fileProblem) : null,
    h('div', { class: 'buttons' },
      button('Use Active Editor', () => post({ type: 'useActiveFile' }), { id: 'ft-use-active', secondary: true, disabled: locked }),
      button('Choose File…', () => post({ type: 'pickFile' }), { id: 'ft-pick-file', secondary: true, disabled: locked })));

  // Model
  const presets = context?.presets ?? [];
  const current = context?.current;
  // VS Code Elements has no option groups: a new model's presets say "from scratch" in their text instead.
  const base = select('ft-base', 'Start from', [
    ...presets.map((p): [string, string] => [p.name, `${p.name}: ${p.layers} layers, d ${p.embd} (from scratch)`]),
    ['current', current ? `Current model: ${basename(current.ref)}` : 'Current model: none selected', !current?.usable],
    ['folder', context?.folder ? `Folder: ${basename(context.folder)}` : 'Folder: choose one below', !context?.folder],
  ], form.base, (v) => { state = { ...state, form: withBase(state.form, v as FineTuneSettings['base']) }; save(); keepingFocus(renderForm); },
  { disabled: locked });
  const preset = presets.find((p) => p.name === form.base);
  const mode = select('ft-mode', 'Mode', [['full', 'Full fine-tune'], ['lora', 'LoRA']], form.mode,
    (v) => { setForm({ mode: v as 'full' | 'lora' }); keepingFocus(renderForm); }, { disabled: locked || isPreset(form.base) });
  const showRank = form.mode === 'lora' && !isPreset(form.base);
  if (!showRank && state.drafts.loraRank !== undefined) {
    const { loraRank: _, ...drafts } = state.drafts;
    state = { ...state, drafts };
    save();
  }
  mount(model.body,
    field('ft-base', 'Start from', base),
    current && !current.usable && current.reason ? h('p', { class: 'hint' }, current.reason) : null,
    h('div', { class: 'buttons' }, button('Choose Model Folder…', () => post({ type: 'pickFolder' }), { id: 'ft-pick-folder', secondary: true, disabled: locked })),
    field('ft-mode', 'Mode', mode, isPreset(form.base) ? 'A new model trains every weight.' : undefined),
    showRank ? field('ft-rank', 'LoRA rank', numberInput('loraRank', 'ft-rank', '1')) : null);

  // Hyperparameters
  const optimizer = select('ft-optimizer', 'Optimizer', [['adamw', 'AdamW'], ['sgd', 'SGD']], form.optimizer,
    (v) => setForm({ optimizer: v as 'adamw' | 'sgd' }), { disabled: locked });
  mount(hyper.body,
    field('ft-steps', 'Steps', numberInput('steps', 'ft-steps', '1')),
    field('ft-lr', 'Learning rate', numberInput('lr', 'ft-lr', 'any')),
    field('ft-optimizer', 'Optimizer', optimizer),
    field('ft-seed', 'Seed', numberInput('seed', 'ft-seed', '1')),
    h('p', { class: 'hint' }, preset ? `Batch ${preset.batch} × block ${preset.block} tokens (from the preset).`
      : 'Batch 8 × block up to 128 tokens (shorter files use shorter blocks).'));
  hyper.body.querySelectorAll<HTMLElement & { disabled: boolean }>('vscode-textfield, vscode-single-select').forEach((el) => { el.disabled = locked; });

  // Probe
  const prompt = h('vscode-textarea', { id: 'ft-prompt', rows: 2, maxlength: FT_LIMITS.prompt, disabled: locked, monospace: true,
    resize: 'vertical', 'aria-label': 'Prompt' }) as HTMLElement & { value: string; label: string };
  prompt.value = form.prompt;
  prompt.label = 'Prompt';
  prompt.addEventListener('change', () => setForm({ prompt: prompt.value || state.form.prompt }));
  const target = h('vscode-textfield', { id: 'ft-target', maxlength: FT_LIMITS.target, value: form.target, disabled: locked,
    'aria-label': 'Target' }) as HTMLElement & { value: string; label: string };
  target.label = 'Target';
  target.addEventListener('change', () => setForm({ target: target.value || state.form.target }));
  mount(probe.body,
    h('p', { class: 'hint' }, 'The next-token distribution at the prompt\u2019s end, before and after training.'),
    field('ft-prompt', 'Prompt', prompt), field('ft-target', 'Target', target));
}

function renderControls(): void {
  const { phase } = state.run;
  const active = isActive(phase);
  const invalid = invalidFields().length > 0;
  const canStart = !active && !!state.context?.file && !state.context.fileProblem && !invalid;
  mount(controls,
    button('Start', start, { id: 'ft-start', 'aria-label': 'Start training', disabled: !canStart,
      title: !state.context?.file ? 'Choose a training file first' : invalid ? 'Correct the settings marked in red first' : '' }),
    button(phase === 'paused' ? 'Resume' : 'Pause', () => post({ type: phase === 'paused' ? 'resume' : 'pause' }), { id: 'ft-pause', secondary: true,
      disabled: phase !== 'running' && phase !== 'paused', 'aria-label': phase === 'paused' ? 'Resume training' : 'Pause training' }),
    button('Stop', () => post({ type: 'stop' }), { id: 'ft-stop', secondary: true, 'aria-label': 'Stop training',
      disabled: !(phase === 'starting' || phase === 'running' || phase === 'paused') }));
}

function start(): void {
  // The probe's fields commit on change; a text typed but not yet committed counts too.
  (document.activeElement as HTMLElement | null)?.blur();
  if (invalidFields().length) return;
  post({ type: 'start', settings: state.form });
}

const eta = (s: number) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.max(0, Math.round(s))} s`);

function renderProgress(): void {
  const r = state.run;
  app.dataset.phase = r.phase;
  const phaseText: Record<string, string> = {
    idle: '', starting: 'Starting…', running: 'Training…', paused: 'Paused.', stopping: 'Stopping after this step…',
    probing: 'Probing the trained model…', failed: '',
    finished: r.result?.status === 'diverged' || r.result?.status === 'memory' ? 'Training stopped early.' : r.result?.message ?? 'Finished.',
  };
  status.textContent = r.busy || phaseText[r.phase] || '';
  if (r.phase === 'idle') {
    mount(progress.body, h('p', { class: 'muted' }, 'Choose a file and press Start.'),
      r.error ? h('p', { class: 'error', role: 'alert' }, r.error) : null);
  } else {
    const l = r.last;
    const stat = (label: string, value: string, id: string) => h('div', { class: 'stat', id }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value));
    const meter = h('progress', { id: 'ft-meter', max: Math.max(1, r.steps), value: l?.step ?? 0, 'aria-label': 'Training progress' });
    mount(progress.body,
      h('p', { class: 'muted' }, `${r.fileName}${r.batch ? ` · batch ${r.batch} × block ${r.block}` : ''}`),
      meter,
      h('div', { class: 'stats' },
        stat('Step', `${l?.step ?? 0} / ${r.steps}`, 'ft-stat-step'),
        stat('Loss', l ? l.loss.toFixed(3) : '–', 'ft-stat-loss'),
        stat('Val loss', l?.valLoss != null ? l.valLoss.toFixed(3) : '–', 'ft-stat-val'),
        stat('Tokens/s', l ? String(l.tokensPerSec) : '–', 'ft-stat-tps'),
        // Paused, no time passes towards the end: a frozen estimate would mislead.
        stat('ETA', r.phase === 'paused' ? 'paused' : l && r.phase !== 'finished' ? eta(l.etaSec) : '–', 'ft-stat-eta')),
      lossCurve(r.train, r.val, Math.max(1, r.steps), width()),
      curveLegend(),
      ...r.notes.map((n) => h('p', { class: 'notice', role: 'note' }, n)),
      outcome(r),
      r.error ? h('p', { class: 'error', role: 'alert' }, r.error) : null);
  }
}

/** A run that ended badly says so where the curve is: a NaN stop, the memory cap, or a loss that blew up. */
function outcome(r: FineTuneViewState['run']): HTMLElement | null {
  const result = r.phase === 'finished' ? r.result : null;
  if (!result) return null;
  if (result.status === 'diverged' || result.status === 'memory') return h('p', { class: 'error', role: 'alert', id: 'ft-outcome' }, result.message);
  if (result.warning) return h('p', { class: 'warning', role: 'alert', id: 'ft-outcome' }, result.warning);
  return null;
}

function renderResults(): void {
  const r = state.run;
  const done = r.phase === 'finished' && r.result?.exported;
  mount(results.body,
    probeView(r.before, r.after, isActive(r.phase), r.comparison ?? null, Math.max(240, Math.floor(probe.body.getBoundingClientRect().width || 400))),
    done ? h('div', { class: 'buttons' },
      button('Explain with This Model', () => post({ type: 'explain' }), { id: 'ft-explain' }),
      button('Save…', () => post({ type: 'save' }), { id: 'ft-save', secondary: true })) : null,
    r.savedTo ? h('p', { class: 'muted', id: 'ft-saved' }, `Saved to ${r.savedTo}`) : null);
}

function width(): number {
  return Math.max(200, Math.floor(progress.body.getBoundingClientRect().width || 300));
}

function renderAll(): void {
  keepingFocus(() => { renderForm(); renderControls(); renderProgress(); renderResults(); });
}

window.addEventListener('message', (event: MessageEvent) => {
  const msg = event.data as FineTuneHostToView;
  if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return;
  const wasActive = isActive(state.run.phase);
  state = reduce(state, msg);
  save();
  if (msg.type === 'progress') {
    renderProgress();
    if (state.run.phase === 'running' && !wasActive) keepingFocus(renderControls);
    return;
  }
  if (msg.type === 'context' || msg.type === 'folderChosen' || wasActive !== isActive(state.run.phase)) keepingFocus(renderForm);
  keepingFocus(() => { renderControls(); renderProgress(); renderResults(); });
});

let lastWidth = 0;
new ResizeObserver(() => {
  const w = width();
  if (w !== lastWidth) { lastWidth = w; renderProgress(); }
}).observe(app);

renderAll();
post({ type: 'ready' });
