// The panel's tabs (VS Code Elements): a header per tab and a panel holding that tab's sections. vscode-tabs
// gives the headers roving focus (arrow keys move, Enter selects) and hides the panels not in front.
import { h } from '../shared/dom';
import { PANEL_TABS, type PanelTab } from '../../src/protocol/messages';

export const TAB_TITLES: { [T in PanelTab]: string } = {
  distribution: 'Distribution',
  attention: 'Attention',
  logitLens: 'Logit lens',
  attribution: 'Attribution',
  compare: 'Compare',
};

export interface Tabs {
  el: HTMLElement;
  /** The panel element of each tab: sections go in here. */
  panels: { [T in PanelTab]: HTMLElement };
  show(tab: PanelTab): void;
}

export function panelTabs(onSelect: (tab: PanelTab) => void): Tabs {
  const headers = PANEL_TABS.map((t) => h('vscode-tab-header', { slot: 'header', 'data-tab': t }, TAB_TITLES[t]));
  const panels = Object.fromEntries(PANEL_TABS.map((t) => [t, h('vscode-tab-panel', { 'data-tab': t })])) as unknown as Tabs['panels'];
  const el = h('vscode-tabs', { class: 'panel-tabs', 'aria-label': 'Views of the analysis' }, ...headers, ...PANEL_TABS.map((t) => panels[t]));
  el.addEventListener('vsc-tabs-select', (e) => onSelect(PANEL_TABS[(e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex]));
  return {
    el, panels,
    show(tab) {
      const index = PANEL_TABS.indexOf(tab);
      if ((el as HTMLElement & { selectedIndex: number }).selectedIndex !== index) (el as HTMLElement & { selectedIndex: number }).selectedIndex = index;
    },
  };
}
