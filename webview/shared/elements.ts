// The VS Code Elements (web components) for form controls, registered once per webview. Each import defines its
// custom element; only these are bundled. They draw with the theme's --vscode-* variables and handle their own
// keyboard access. Their styles are constructed stylesheets (adoptedStyleSheets), which the strict CSP allows:
// no inline <style>, no remote host.
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
