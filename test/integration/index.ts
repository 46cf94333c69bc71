// The extension-host suite: runs inside code-server's real extension host against the real extension as a user
// installs it, with tokenLens.model unset and tokenLens.offline on: everything runs on the built-in stories260K.
// The workspace holds prompt.txt (exactly PROMPT) and story.txt (PROMPT + STORY_END).
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
// What the Explain panel's browser test replays (test/webview/make-fixtures.ts): the panel must post this shape.
import fixture from '../webview/fixtures/stories260K.json';
import { assert, eventually, runTests, test } from './runner';

export const EXTENSION_ID = 'token-lens.token-lens';
export const PROMPT = 'Once upon a time, there was a little girl named';
export const STORY_END = ' Lily. She liked to play outside.\n';
const COMMANDS = ['tokenLens.explainNextToken', 'tokenLens.toggleLossHeatmap', 'tokenLens.selectModel',
  'tokenLens.loadModel', 'tokenLens.showLog', 'tokenLens.explainFromHere', 'tokenLens.fineTuneOnFile', 'tokenLens.cleanUpStorage',
  'tokenLens.walkthrough.explainSample', 'tokenLens.walkthrough.openSample', 'tokenLens.walkthrough.zooFineTune',
  'tokenLens.importCheckpoint', 'tokenLens.compareWith'];

let api: TokenLensApi;

/** Suite output goes through the workbench log with everything else; the prefix tells it apart. */
export const SUITE_PREFIX = '[suite] ';
const note = (line: string) => console.log(SUITE_PREFIX + line);

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert(folder, 'no workspace folder is open');
  return vscode.Uri.joinPath(folder.uri, name);
}

async function show(name: string, offset?: number): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(workspaceFile(name));
  const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
  const at = doc.positionAt(offset ?? doc.getText().length);
  editor.selection = new vscode.Selection(at, at);
  return editor;
}

function hoverMarkdown(hovers: vscode.Hover[]): string {
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
}

/** Keys and value types, recursively; an array by its first element. Two messages of one shape read the same. */
function shapeOf(x: unknown): unknown {
  if (Array.isArray(x)) return x.length ? [shapeOf(x[0])] : [];
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return Object.fromEntries(Object.keys(x).sort().map((k) => [k, shapeOf((x as Record<string, unknown>)[k])]));
}

function assertSameShape(posted: unknown, recorded: unknown, what: string): void {
  const a = JSON.stringify(shapeOf(posted));
  const b = JSON.stringify(shapeOf(recorded));
  assert(a === b, `${what}: the panel posted\n${a}\nthe browser-test fixture has\n${b}`);
}

test('the extension activates and exposes its test API', async () => {
  const ext = vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID);
  assert(ext, `${EXTENSION_ID} is not installed`);
  api = await ext.activate();
  assert(typeof api?.lastAnalysis === 'function', 'activate() did not return the TokenLensApi');
  assert(api.modelState() !== 'error', `model state is ${api.modelState()}`);
  const config = vscode.workspace.getConfiguration('tokenLens');
  note(`tokenLens.model = ${JSON.stringify(config.get('model'))}, tokenLens.offline = ${config.get('offline')}`);
  assert(config.get<string>('model') === '' && config.get<boolean>('offline') === true, 'this suite runs with tokenLens.model unset, offline');
});

test('every contributed command is registered', async () => {
  const registered = new Set(await vscode.commands.getCommands(true));
  const missing = COMMANDS.filter((c) => !registered.has(c));
  assert(missing.length === 0, `not registered: ${missing.join(', ')}`);
});

test('before a model is loaded the hover is a one-line hint whose link loads the model', async () => {
  assert(api.modelState() === 'none', `model state ${api.modelState()}: the hint needs a model not loaded yet`);
  const editor = await show('story.txt', 0);
  const pos = editor.document.positionAt(PROMPT.length + 2);
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, pos);
  const hint = hoverMarkdown(hovers ?? []).split('\n').find((l) => l.startsWith('Token Lens:'));
  assert(hint, `no Token Lens hint in the hover:\n${hoverMarkdown(hovers ?? [])}`);
  assert(/\[\$\(play\) Load\]\(command:tokenLens\.loadModel\) `stories260K` to see its predictions here · \[turn off\]/.test(hint), hint);
  assert(api.modelState() === 'none', 'the hover started loading the model');
  // The link's command loads the configured model.
  await vscode.commands.executeCommand('tokenLens.loadModel');
  assert(api.modelState() === 'ready', `after Load: ${api.modelState()}`);
}, 90_000);

test('Explain Next Token opens the panel with an analysis whose top candidate is " Lily"', async () => {
  await show('prompt.txt');
  await vscode.commands.executeCommand('tokenLens.explainNextToken');
  const analysis = await eventually(() => api.lastAnalysis(), 'an analysis in the Explain panel', 90_000);
  assert(analysis.text === PROMPT, `analysed ${JSON.stringify(analysis.text)}`);
  const top = analysis.topK(analysis.tokens.length - 1, 5);
  note(`top-5 after the prompt: ${top.map((c) => `${JSON.stringify(c.text)} ${c.prob.toFixed(3)}`).join(', ')}`);
  assert(top[0]?.text === ' Lily', `top candidate is ${JSON.stringify(top[0]?.text)}`);
  assert(Number.isFinite(analysis.meanLoss) && analysis.meanLoss > 0, `mean loss ${analysis.meanLoss}`);
  const state = api.panelState();
  assert(state && state.tokens === analysis.tokens.length && state.text === PROMPT, `panel state ${JSON.stringify(state)}`);
  assert(api.modelState() === 'ready', `model state ${api.modelState()}`);
  // What the webview received has the shape the browser test replays, "sampling keeps N" count included.
  const posted = await eventually(() => api.panelPosted('analysis') as { text?: string; kept?: unknown } | undefined, 'a posted analysis');
  assert(posted.text === PROMPT && posted.kept === analysis.vocabSize, `posted kept ${JSON.stringify(posted.kept)}`);
  assertSameShape(posted, fixture.analysis, 'analysis');
  // The webview asks for attention at once; the panel answers with one head and its layer's grid.
  assertSameShape(await eventually(() => api.panelPosted('attention'), 'a posted attention matrix'), fixture.attention['0|0'], 'attention');
  assertSameShape(await eventually(() => api.panelPosted('attentionGrid'), 'a posted attention grid'), fixture.grids['0'], 'attentionGrid');
  // No model was configured or picked: the built-in one, shipped inside the extension, answered.
  const builtin = join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'models', 'stories260K');
  assert(analysis.modelId === builtin, `analysed with ${analysis.modelId}, not the built-in ${builtin}`);
}, 120_000);

test('the hover over " Lily" lists " Lily" first among the candidates', async () => {
  const editor = await show('story.txt', 0);
  const pos = editor.document.positionAt(PROMPT.length + 2);   // inside "Lily"
  const markdown = await eventually(async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, pos);
    const md = hoverMarkdown(hovers ?? []);
    return md.includes('**Actual**') ? md : undefined;
  }, 'a Token Lens hover', 60_000, 500);
  const firstRow = markdown.split('\n').find((l) => /^\| 1 \|/.test(l));
  assert(firstRow?.includes('`␣Lily`'), `first row: ${firstRow}\n${markdown}`);
  // The actual token and "Explain from here" come first, before the table a hover may cut off.
  assert(/^\*\*Actual\*\* `␣Lily` \d+\.\d% · rank 1 · .*\[\$\(lightbulb-sparkle\) Explain from here\]\(command:tokenLens\.explainFromHere\?/.test(markdown),
    `the hover does not open with the actual token and the link:\n${markdown}`);
  const direct = await api.hoverText(editor.document.uri.toString(), pos.line, pos.character);
  assert(direct === markdown, 'the test hook and the hover provider disagree');
}, 90_000);

test('the loss heatmap decorates the tokens and toggling it again removes them', async () => {
  await show('story.txt', 0);
  assert(api.heatmapDecorationCount() === 0, `decorations before toggling: ${api.heatmapDecorationCount()}`);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  const count = await eventually(() => api.heatmapDecorationCount() > 0 && api.heatmapDecorationCount(), 'heatmap decorations', 60_000);
  // Every token of the story but the BOS gets a range (the first one has no prediction and may be left out).
  assert(count >= 10, `only ${count} decorated ranges`);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  await eventually(() => api.heatmapDecorationCount() === 0, 'heatmap decorations removed', 10_000);
}, 90_000);

export async function run(): Promise<void> {
  const summary = await runTests(note);
  if (summary.failed > 0) throw new Error(`${summary.failed} of ${summary.passed + summary.failed} extension-host tests failed`);
}
