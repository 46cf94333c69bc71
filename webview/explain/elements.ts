// The VS Code Elements the Explain panel uses: the shared form controls, and its tabs.
import '../shared/elements';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
