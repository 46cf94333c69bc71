// Extension-host suite for the glue's edge cases: what is analysed, the messages users get, per-language
// hover settings, the heatmap's surprisal style and a model that fails to load. Real stories260K model;
// the workspace holds prompt.txt (exactly PROMPT) and story.txt (PROMPT + STORY_END), tokenLens.model set.
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
const PROMPT = 'Once upon a time, there was a little girl named';
let api: TokenLensApi;

async function showFile(name: string, selStart?: number, selEnd?: number): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert(folder, 'no workspace folder');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, name));
  return select(await vscode.window.showTextDocument(doc, vscode.ViewColumn.One), selStart, selEnd);
}

async function showText(content: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ content, language: 'plaintext' });
  return select(await vscode.window.showTextDocument(doc, vscode.ViewColumn.One));
}

function select(editor: vscode.TextEditor, start?: number, end?: number): vscode.TextEditor {
  const len = editor.document.getText().length;
  editor.selection = new vscode.Selection(editor.document.positionAt(start ?? len), editor.document.positionAt(end ?? start ?? len));
  return editor;
}

async function explainAndWaitFor(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  await vscode.commands.executeCommand('tokenLens.explainNextToken');
  await eventually(() => done(), what, timeoutMs);
}

test('activate', async () => {
  api = await vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!.activate();
  assert(typeof api.lastMessage === 'function', 'no lastMessage() in the test API');
});

test('nothing before the cursor: a clear error, no panel', async () => {
  await showFile('prompt.txt', 0);
  await explainAndWaitFor('an error message', () => api.lastMessage()?.severity === 'error');
  assert(/Nothing before the cursor/.test(api.lastMessage()!.message), api.lastMessage()!.message);
  assert(api.panelState() === undefined, 'a panel opened');
});

test('a selection is explained on its own', async () => {
  const start = PROMPT.indexOf('little');
  await showFile('prompt.txt', start, start + 'little girl'.length);
  await explainAndWaitFor('the selection analysed', () => api.panelState()?.text === 'little girl' && api.panelState()!.tokens > 0);
  assert(api.panelState()!.visible, 'panel not visible');
  assert(vscode.window.activeTextEditor?.document.fileName.endsWith('prompt.txt'), 'the editor lost focus');
}, 90_000);

test('Explain from Here explains the text before the offset', async () => {
  const folder = vscode.workspace.workspaceFolders![0];
  const uri = vscode.Uri.joinPath(folder.uri, 'story.txt').toString();
  await vscode.commands.executeCommand('tokenLens.explainFromHere', { uri, offset: PROMPT.length });
  const a = await eventually(() => (api.lastAnalysis()?.text === PROMPT ? api.lastAnalysis() : undefined), 'analysis of the prompt');
  assert(a.topK(a.tokens.length - 1, 1)[0].text === ' Lily', 'top candidate is not " Lily"');
});

test('tokenLens.hover.enabled can be turned off for one language', async () => {
  const editor = await showFile('story.txt', 0);
  const uri = editor.document.uri.toString();
  const at = editor.document.positionAt(PROMPT.length + 2);
  assert(await eventually(() => api.hoverText(uri, at.line, at.character), 'a hover'), 'no hover');
  const cfg = vscode.workspace.getConfiguration('tokenLens', { languageId: 'plaintext' });
  await cfg.update('hover.enabled', false, vscode.ConfigurationTarget.Global, true);
  try {
    assert(await api.hoverText(uri, at.line, at.character) === undefined, 'hover still shown for plaintext');
  } finally {
    await cfg.update('hover.enabled', undefined, vscode.ConfigurationTarget.Global, true);
  }
  assert(await api.hoverText(uri, at.line, at.character), 'hover did not come back');
});

test('a binary document is refused', async () => {
  await showText('PK\u0003\u0004\u0000\u0000binary');
  await explainAndWaitFor('a binary error', () => /binary/.test(api.lastMessage()?.message ?? ''));
});

test('text over the context window: the last part is analysed and the user is told which', async () => {
  await showText(`${PROMPT} Lily. She liked to play outside with her dog.\n`.repeat(40));
  await explainAndWaitFor('a truncated analysis', () => api.panelState()?.truncated === true, 90_000);
  const m = api.lastMessage();
  assert(m?.severity === 'info' && /more than the model's context window: analysed the last part/.test(m.message), JSON.stringify(m));
}, 120_000);

test('the surprisal heatmap decorates tokens and clears', async () => {
  await showFile('story.txt', 0);
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  await cfg.update('heatmap.style', 'surprisal', vscode.ConfigurationTarget.Global);
  try {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapDecorationCount() >= 10, 'surprisal decorations');
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapDecorationCount() === 0, 'decorations cleared');
  } finally {
    await cfg.update('heatmap.style', undefined, vscode.ConfigurationTarget.Global);
  }
});

test('a model folder that does not exist: error state and message, then recovery', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const good = cfg.inspect<string>('model')?.globalValue;
  await cfg.update('model', '/nonexistent/model', vscode.ConfigurationTarget.Global);
  try {
    await showFile('prompt.txt');
    await explainAndWaitFor('a load error', () => api.modelState() === 'error');
    assert(/Model folder not found: \/nonexistent\/model/.test(api.lastMessage()?.message ?? ''), JSON.stringify(api.lastMessage()));
  } finally {
    await cfg.update('model', good, vscode.ConfigurationTarget.Global);
  }
  await explainAndWaitFor('the model back', () => api.modelState() === 'ready' && api.panelState()?.text === PROMPT);
}, 90_000);

export async function run(): Promise<void> {
  const summary = await runTests((line) => console.log(`[glue] ${line}`));
  if (summary.failed > 0) throw new Error(`${summary.failed} glue tests failed`);
}
