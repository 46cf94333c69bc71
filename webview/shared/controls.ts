// Form controls built from VS Code Elements (registered by ./elements), with the panels' keyboard rules. One place
// for the components' quirks: a select is never replaced during its own change event, a number field commits on
// Enter or when focus leaves, a slider is a themed native range (the installed VS Code Elements has none), and a
// collapsible opens with Space and tells assistive technology whether it is open, as <details> did.
import { h } from './dom';

type Valued = HTMLElement & { value: string };

/**
 * A VS Code Elements select; `value` picks the option with that value. `onChange` runs after the select's own event
 * handling: a re-render that replaced the select while its popover is still closing would throw ("showPopover …
 * disconnected").
 */
export function select(id: string, label: string, options: [value: string, text: string, disabled?: boolean][], value: string,
  onChange: (v: string) => void, attrs: { disabled?: boolean } = {}): Valued {
  const el = h('vscode-single-select', { id, 'aria-label': label, disabled: attrs.disabled },
    ...options.map(([v, text, off]) => h('vscode-option', { value: v, selected: v === value, disabled: off }, text))) as Valued;
  el.addEventListener('change', () => {
    const v = el.value;
    setTimeout(() => onChange(v));
  });
  return el;
}

/** A labelled control on one line: the label, the control(s), then anything shown after them. */
export function labelled(id: string, label: string, ...rest: (HTMLElement | null)[]): HTMLElement {
  return h('div', { class: 'control' }, h('label', { for: id }, label), ...rest);
}

export interface NumberRange { min: number; max: number; step: number }

/** A typed number put into the range and onto the step, at the step's decimals (0.9 stays 0.9, not 0.9000000000000001). */
export function snap(v: number, r: NumberRange): number {
  const decimals = (String(r.step).split('.')[1] ?? '').length;
  const stepped = r.min + Math.round((v - r.min) / r.step) * r.step;
  return Number(Math.max(r.min, Math.min(r.max, stepped)).toFixed(decimals));
}

export interface NumberFieldOptions extends NumberRange {
  /** What the field shows for a value. */
  shown?: (v: number) => string;
  /** The value an emptied field commits; the last committed value when not given. */
  whenEmpty?: number;
  /** The id of the element that explains the field. */
  describedBy?: string;
}

/**
 * A number field (vscode-textfield): Up and Down step it, a typed value commits on Enter or when focus leaves. A
 * value outside the range or between steps is snapped, and the field shows what was committed.
 */
export function numberField(id: string, label: string, value: number, o: NumberFieldOptions, onCommit: (v: number) => void): Valued {
  const shown = o.shown ?? String;
  let committed = value;
  const field = h('vscode-textfield', {
    id, type: 'number', min: o.min, max: o.max, step: o.step, value: shown(value), 'aria-label': label,
    'aria-describedby': o.describedBy,
  }) as Valued & { label: string };
  // The component names its inner input from this property (it has no attribute).
  field.label = label;
  field.addEventListener('change', () => {
    const typed = field.value.trim() === '' ? o.whenEmpty ?? committed : Number(field.value);
    committed = Number.isFinite(typed) ? snap(typed, o) : committed;
    field.value = shown(committed);
    onCommit(committed);
  });
  return field;
}

export interface SliderOptions extends NumberRange {
  /** The value in words, for the slider's aria-valuetext (e.g. "off"). */
  spoken?: (v: number) => string;
  /** The value in the number field beside the slider. */
  shown?: (v: number) => string;
  hint?: string;
  /** true: report every step while the slider moves; false: only when it is let go (and on a typed value). */
  live: boolean;
}

/**
 * A slider with its value in a number field. VS Code Elements 2.5 has no slider, so this is a native range input,
 * coloured from the theme in the stylesheet, next to a vscode-textfield that shows the value and takes a typed one.
 * Both are tab stops: arrows step the slider, the field takes an exact number. The range input keeps `id`; the field
 * is `${id}-value`.
 */
export function slider(id: string, label: string, value: number, o: SliderOptions, onChange: (v: number) => void): HTMLElement {
  const spoken = o.spoken ?? String;
  const range = h('input', { id, type: 'range', min: o.min, max: o.max, step: o.step, value, 'aria-valuetext': spoken(value),
    'aria-describedby': o.hint ? `${id}-hint` : undefined });
  const field = numberField(`${id}-value`, `${label}, exact value`, value, { ...o, describedBy: o.hint ? `${id}-hint` : undefined }, (v) => {
    range.value = String(v);
    range.setAttribute('aria-valuetext', spoken(v));
    onChange(v);
  });
  field.classList.add('slider-value');
  const moved = () => {
    const v = Number(range.value);
    field.value = (o.shown ?? String)(v);
    range.setAttribute('aria-valuetext', spoken(v));
    return v;
  };
  range.addEventListener('input', () => {
    const v = moved();
    if (o.live) onChange(v);
  });
  if (!o.live) range.addEventListener('change', () => onChange(moved()));
  return labelled(id, label, range, field, o.hint ? h('span', { id: `${id}-hint`, class: 'visually-hidden' }, o.hint) : null);
}

/**
 * A VS Code Elements collapsible that keeps what <details> gave: Space toggles it as Enter does, and its header is a
 * button that says whether it is expanded (the component's header is a focusable div with neither).
 */
export function collapsible(heading: string, open: boolean, onToggle: ((open: boolean) => void) | null, attrs: Record<string, string>,
  ...body: (HTMLElement | string)[]): HTMLElement {
  const el = h('vscode-collapsible', { heading, open, ...attrs }, ...body) as HTMLElement & { open: boolean; updateComplete: Promise<unknown> };
  const header = () => el.shadowRoot?.querySelector('.collapsible-header') ?? null;
  const describe = () => {
    header()?.setAttribute('role', 'button');
    header()?.setAttribute('aria-expanded', String(el.open));
  };
  void el.updateComplete.then(describe);
  el.addEventListener('vsc-collapsible-toggle', () => {
    describe();
    onToggle?.(el.open);
  });
  el.addEventListener('keydown', (e) => {
    if (e.key !== ' ' || e.composedPath()[0] !== header()) return;
    e.preventDefault();
    el.open = !el.open;
    el.dispatchEvent(new CustomEvent('vsc-collapsible-toggle', { detail: { open: el.open } }));
  });
  return el;
}

/**
 * A VS Code Elements button. Disabled, it tells assistive technology so and ignores clicks, as a native button does
 * (the component itself only stops the pointer and its own Enter and Space).
 */
export function button(text: string, onClick: () => void,
  attrs: { id?: string; class?: string; secondary?: boolean; disabled?: boolean; title?: string; 'aria-label'?: string } = {}): HTMLElement {
  const el = h('vscode-button', { ...attrs, 'aria-disabled': attrs.disabled ? 'true' : undefined }, text);
  el.addEventListener('click', () => { if (!el.hasAttribute('disabled')) onClick(); });
  return el;
}
