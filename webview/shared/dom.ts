// A tiny hyperscript: builds DOM without innerHTML, so token text can never become markup.

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
}

/** Replaces an element's children. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A theme colour as the canvas needs it (canvas cannot read CSS variables itself). */
export function themeColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim()
    || getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** Rebuilding a section replaces its elements; keep keyboard focus on the same control. */
export function keepingFocus(fn: () => void): void {
  const id = (document.activeElement as HTMLElement | null)?.id;
  fn();
  const el = id ? document.getElementById(id) as (HTMLElement & { updateComplete?: Promise<unknown> }) | null : null;
  if (!el) return;
  el.focus({ preventScroll: true });
  // A new VS Code Elements control passes focus on to its inner control, which it draws only after this task's
  // microtasks: focus it again once drawn, unless focus went somewhere else in between (another control, or out of
  // the webview: the panel must never pull focus back from the editor or a quick pick).
  if (document.activeElement !== el && el.updateComplete) {
    void el.updateComplete.then(() => { if (document.hasFocus() && document.activeElement === document.body) el.focus({ preventScroll: true }); });
  }
}
