// The view's whole state as one plain object, saved with setState so a hidden and re-shown view looks the same.
import { DEFAULT_PROBE, defaultSettings, emptyRun, foldRun, isActive, type FineTuneContext, type FineTuneHostToView,
  type FineTuneSettings, type RangedSetting, type RunSnapshot } from '../../src/protocol/finetune';

export interface FineTuneViewState {
  form: FineTuneSettings;
  context: FineTuneContext | null;
  run: RunSnapshot;
  /** What the user typed into a number field that is out of its range (the form keeps the last allowed value). */
  drafts: Partial<Record<RangedSetting, string>>;
}

export function initialState(): FineTuneViewState {
  return { form: defaultSettings('toy'), context: null, run: emptyRun(), drafts: {} };
}

export const isPreset = (base: FineTuneSettings['base']): boolean => base === 'toy' || base === 'nanogpt-cpu';

/** Folds a host message into the view state. Pure. */
export function reduce(state: FineTuneViewState, msg: FineTuneHostToView): FineTuneViewState {
  if (msg.type === 'context') {
    let form = state.form;
    // A base that is no longer offered falls back to the first preset.
    if ((form.base === 'current' && !msg.current?.usable) || (form.base === 'folder' && !msg.folder)) form = { ...form, base: 'toy', mode: 'full' };
    // The probe follows the file until the user writes their own.
    const untouched = [DEFAULT_PROBE, state.context?.probe].some((p) => p && p.prompt === form.prompt && p.target === form.target);
    if (msg.probe && untouched) form = { ...form, ...msg.probe };
    const { type: _, ...context } = msg;
    return { ...state, form, context };
  }
  // A folder the user has just chosen is the model to start from.
  if (msg.type === 'folderChosen') return state.context?.folder ? { ...state, form: withBase(state.form, 'folder') } : state;
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
