// The Compare tab's place in the panel. A compare view mounts itself into `#compare-root`; until one does,
// the tab says what it is for.
import { h } from '../shared/dom';

export function comparePlaceholder(): HTMLElement {
  return h('section', { id: 'compare', 'aria-labelledby': 'compare-title' },
    h('h2', { id: 'compare-title' }, 'Compare'),
    h('div', { id: 'compare-root' },
      h('p', { class: 'muted' }, 'Nothing to compare yet.')));
}
