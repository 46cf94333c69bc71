// Extension-host suite for the lenses in the editor: "Why This Token?" at the cursor, the logit lens and attribution
// answered by the Explain panel's host, cancelling a lens, and the logit lens hint. Real stories260K model (the
// built-in one); the workspace holds prompt.txt (exactly PROMPT). The panel's webview is the real one: it asks for
// the attribution itself when the host brings its Attribution tab forward.
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import type { HostMessages } from '../../src/protocol/messages';
// What the Explain panel's browser test replays (test/webview/make-fixtures.ts): the panel must post this shape.
import fixture from '../webview/fixtures/stories260K.json';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
const PROMPT = 'Once upon a time, there was a little girl named';
const PREFIX = '[lenses] ';
const note = (line: string) => console.log(PREFIX + line);
let api: TokenLensApi;

async function showPrompt(offset?: number): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert(folder, 'no workspace folder');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'prompt.txt'));
  const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
  const at = doc.positionAt(offset ?? doc.getText().length);
  editor.selection = new vscode.Selection(at, at);
  return editor;
}

/** Keys and value types, recursively; an array by its first element. */
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

const posted = <K extends keyof HostMessages>(type: K) => api.panelPosted(type) as (HostMessages[K] & { type: K }) | undefined;

test('activate', async () => {
  api = await vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!.activate();
  const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
  const menu = manifest.contributes.menus['editor/context'] as { command: string }[];
  assert(menu.some((m) => m.command === 'tokenLens.whyThisToken'), 'Why This Token? is not in the editor context menu');
  assert((await vscode.commands.getCommands(true)).includes('tokenLens.whyThisToken'), 'tokenLens.whyThisToken is not registered');
});

test('Why This Token? at the cursor opens the panel on Attribution, for the top-1 " Lily"', async () => {
  await showPrompt();
  await vscode.commands.executeCommand('tokenLens.whyThisToken');
  const analysis = await eventually(() => api.lastAnalysis()?.text === PROMPT && api.lastAnalysis(), 'the analysis of the prompt', 90_000);
  const top = analysis.topK(analysis.tokens.length - 1, 1)[0];
  assert(top.text === ' Lily', `top-1 ${JSON.stringify(top.text)}`);
  assert(posted('showTab')?.tab === 'attribution', `showTab: ${JSON.stringify(posted('showTab'))}`);
  // The webview asks for it once the tab is in front; the host answers with the attribution of this text.
  const a = await eventually(() => posted('attribution')?.text === PROMPT && posted('attribution'), 'a posted attribution', 60_000);
  note(`${a.method}: f = ${a.value.toFixed(4)}, scores ${a.scores.map((s) => s.toFixed(3)).join(' ')}`);
  assert(a.method === 'occlusion' && a.target.id === top.id && a.target.text === ' Lily' && a.contrast === null, JSON.stringify(a.target));
  // f is log p(" Lily") after the text: the analysis's own probability says the same.
  assert(Math.abs(a.value - Math.log(top.prob)) < 1e-4, `value ${a.value} vs ln p ${Math.log(top.prob)}`);
  assert(a.scores.length === analysis.tokens.length && a.scores.every(Number.isFinite), `${a.scores.length} scores for ${analysis.tokens.length} tokens`);
  assert(a.tokens.join('') === analysis.tokens.map((t) => t.text).join(''), 'the scored tokens are not the analysed ones');
  assert(a.candidates[0].id === top.id, 'the candidates offered do not start with the top-1');
  assertSameShape(a, fixture.attributions['occlusion|null|null|64'], 'attribution');
  // The command left the editor focused, the panel beside it.
  assert(vscode.window.activeTextEditor?.document.fileName.endsWith('prompt.txt'), 'the editor lost focus');
}, 120_000);

test('the logit lens through the panel: one row per block, the output row agrees with the analysis', async () => {
  await api.panelMessage({ type: 'requestLogitLens' });
  const lens = await eventually(() => posted('logitLens')?.text === PROMPT && posted('logitLens'), 'a posted logit lens', 60_000);
  const analysis = api.lastAnalysis()!;
  const T = analysis.tokens.length;
  assert(lens.layers === 5 && lens.top.length === 5 && lens.top.every((row) => row.length === T), `${lens.layers} layers x ${lens.top[0]?.length} positions`);
  assert(lens.top[4][T - 1][0].text === ' Lily', `output row, last position: ${JSON.stringify(lens.top[4][T - 1][0])}`);
  for (let i = 0; i < T; i++) {
    const model = analysis.topK(i, 1)[0];
    assert(lens.top[4][i][0].id === model.id && Math.abs(lens.top[4][i][0].prob - model.prob) < 1e-4, `position ${i}: lens ${lens.top[4][i][0].id}, model ${model.id}`);
  }
  assert(lens.decisionDepth.length === T && lens.decisionDepth.every((d) => d >= 0 && d < 5), JSON.stringify(lens.decisionDepth));
  note(`decision depths ${lens.decisionDepth.join(' ')}`);
  assertSameShape(lens, fixture.logitLens, 'logitLens');
}, 90_000);

test('a long attribution is cancelled: the status says so and no result arrives after it', async () => {
  const before = posted('attribution');
  // The host handles a request until its lens is done: Cancel comes while it runs, as from the webview.
  const request = api.panelMessage({ type: 'requestAttribution', method: 'integrated-gradients', target: null, contrast: null, steps: 1024 });
  await eventually(() => posted('lensStatus')?.lens === 'attribution' && posted('lensStatus')?.status === 'running', 'the attribution running', 30_000, 10);
  await api.panelMessage({ type: 'cancelLens' });
  await request;
  assert(posted('lensStatus')?.status === 'cancelled', `status after Cancel: ${JSON.stringify(posted('lensStatus'))}`);
  const after = posted('attribution');
  assert(after?.method === before?.method && after?.method !== 'integrated-gradients', `an attribution arrived after Cancel: ${after?.method}`);
  // A message the validator refuses changes nothing.
  await api.panelMessage({ type: 'requestAttribution', method: 'saliency', target: null, contrast: null, steps: 64 });
  assert(posted('lensStatus')?.status === 'cancelled', 'an invalid request started a lens');
}, 90_000);

test('integrated gradients through the panel: the scores add up to f(text) - f(baseline)', async () => {
  const analysis = api.lastAnalysis()!;
  const second = analysis.topK(analysis.tokens.length - 1, 2)[1];
  await api.panelMessage({ type: 'requestAttribution', method: 'integrated-gradients', target: null, contrast: second.id, steps: 64 });
  const a = await eventually(() => posted('attribution')?.method === 'integrated-gradients' && posted('attribution'), 'integrated gradients', 60_000);
  assert(a.contrast?.id === second.id && a.baselineValue !== null && a.steps === 64, JSON.stringify({ contrast: a.contrast, steps: a.steps }));
  const sum = a.scores.reduce((s, x) => s + x, 0);
  const delta = a.value - a.baselineValue!;
  assert(Math.abs(sum - delta) <= 0.01 * Math.abs(delta), `sum ${sum} vs f(text) - f(baseline) ${delta}`);
}, 90_000);

test('the logit lens hint at the cursor: off by default, then the guess and its decision depth', async () => {
  assert(vscode.workspace.getConfiguration('tokenLens').get('logitLens.inlineHint') === false, 'the hint is on by default');
  await showPrompt();
  await new Promise((r) => setTimeout(r, 800));
  assert(api.logitLensHint() === undefined, `a hint while off: ${api.logitLensHint()}`);
  const config = vscode.workspace.getConfiguration('tokenLens');
  await config.update('logitLens.inlineHint', true, vscode.ConfigurationTarget.Global);
  try {
    const lens = posted('logitLens')!;
    const depth = lens.decisionDepth[lens.decisionDepth.length - 1];
    const hint = await eventually(() => api.logitLensHint(), 'a logit lens hint', 30_000);
    note(`hint: ${hint}`);
    assert(hint.startsWith('next " Lily"') && hint.endsWith(`settles at block ${depth} of 4`), hint);
    // After "Once upon a", the guess is another one.
    const editor = await showPrompt('Once upon a'.length);
    await eventually(() => api.logitLensHint() !== hint && api.logitLensHint(), 'the hint following the cursor', 30_000);
    assert(!api.logitLensHint()!.startsWith('next " Lily"'), api.logitLensHint()!);
    assert(editor.selection.active.character === 'Once upon a'.length, 'the cursor moved');
  } finally {
    await config.update('logitLens.inlineHint', undefined, vscode.ConfigurationTarget.Global);
  }
  await eventually(() => api.logitLensHint() === undefined, 'the hint gone once the setting is off', 10_000);
}, 90_000);

export async function run(): Promise<void> {
  const summary = await runTests(note);
  if (summary.failed > 0) throw new Error(`${summary.failed} of ${summary.passed + summary.failed} extension-host tests failed`);
}
