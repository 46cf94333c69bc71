// The view's whole state as one plain object, saved with setState so a hidden and re-shown view looks the same.
import { defaultSettings, emptyRun, foldRun, isActive, type FineTuneContext, type FineTuneHostToView, type FineTuneSettings,
  type RunSnapshot } from '../../src/protocol/finetune';

export interface FineTuneViewState {
  form: FineTuneSettings;
  context: FineTuneContext | null;
  run: RunSnapshot;
}

export function initialState(): FineTuneViewState {
  return { form: defaultSettings('toy'), context: null, run: emptyRun() };
}

export const isPreset = (base: FineTuneSettings['base']): boolean => base === 'toy' || base === 'nanogpt-cpu';

/** Folds a host message into the view state. Pure. */
export function reduce(state: FineTuneViewState, msg: FineTuneHostToView): FineTuneViewState {
  if (msg.type === 'context') {
    let form = state.form;
    // A base that is no longer offered falls back to the first preset.
    if ((form.base === 'current' && !msg.current?.usable) || (form.base === 'folder' && !msg.folder)) form = { ...form, base: 'toy', mode: 'full' };
    const { type: _, ...context } = msg;
    return { ...state, form, context };
  }
  const run = foldRun(state.run, msg);
  // A run the host started (the walkthrough's one click, or one going on while the view was closed) shows
  // its own settings in the form.
  const hostRun = msg.type === 'runStarting' || (msg.type === 'snapshot' && isActive(run.phase));
  return { ...state, run, form: hostRun && run.settings ? run.settings : state.form };
}

/** Switching between from-scratch and fine-tuning changes what sane defaults are. */
export function withBase(form: FineTuneSettings, base: FineTuneSettings['base']): FineTuneSettings {
  if (isPreset(base) === isPreset(form.base)) return { ...form, base, mode: isPreset(base) ? 'full' : form.mode };
  const d = defaultSettings(base);
  return { ...form, base, mode: isPreset(base) ? 'full' : form.mode, steps: d.steps, lr: d.lr };
}
