// Extension-host suite for the Toy Fine-tune host: messages go through the same door as the view's (validated,
// then handled), against the real trainer worker and the real stories260K model (tokenLens.model, a folder setting).
import { existsSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import { defaultSettings, type FineTuneSettings } from '../../src/protocol/finetune';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
let api: TokenLensApi;

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert(folder, 'no workspace folder');
  return vscode.Uri.joinPath(folder.uri, name);
}

const start = (settings: Partial<FineTuneSettings>) =>
  api.fineTuneMessage({ type: 'start', settings: { ...defaultSettings('toy'), prompt: 'She had a dog called', target: ' Max', ...settings } });

test('activate', async () => {
  api = await vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!.activate();
  assert(typeof api.fineTuneMessage === 'function', 'no fineTuneMessage() in the test API');
  await vscode.commands.executeCommand('tokenLens.fineTuneOnFile', workspaceFile('train.txt'));
  await eventually(() => api.fineTuneState().visible, 'the Toy Fine-tune view shown');
  assert(api.fineTuneState().file === workspaceFile('train.txt').fsPath, JSON.stringify(api.fineTuneState()));
});

test('Stop while the model initialises ends the run, leaves no folder, and the next Start trains', async () => {
  const first = start({ steps: 10 });
  await eventually(() => api.fineTuneState().busy === 'Initialising the model…', 'initialisation', 30_000, 10);
  await api.fineTuneMessage({ type: 'stop' });
  await first;
  const stopped = api.fineTuneState();
  assert(stopped.phase === 'finished', `phase ${stopped.phase}`);
  assert(stopped.result?.status === 'stopped' && !stopped.result.exported && stopped.result.step === 0, JSON.stringify(stopped.result));
  assert(stopped.out && !existsSync(`${stopped.out}-start`), `${stopped.out}-start was left behind`);
  assert(!existsSync(stopped.out), 'a model was written');

  await start({ steps: 10 });
  const again = api.fineTuneState();
  assert(again.phase === 'finished' && again.result?.status === 'done' && again.result.exported, JSON.stringify(again));
  assert(again.step === 10, `step ${again.step}`);
}, 180_000);

test('Explain with This Model uses the trained model in this window and leaves tokenLens.model alone', async () => {
  const before = vscode.workspace.getConfiguration('tokenLens').inspect<string>('model');
  const trained = api.fineTuneState().out!;
  await api.fineTuneMessage({ type: 'explain' });
  const state = await eventually(() => (api.panelState()?.tokens ? api.panelState() : undefined), 'an analysis', 60_000);
  assert(state.model === trained, `explained with ${state.model}, not ${trained}`);
  // One token per character: the character model trained on train.txt, not stories260K's pieces.
  assert(state.text === 'She had a dog called' && state.tokens === state.text.length, JSON.stringify(state));
  const after = vscode.workspace.getConfiguration('tokenLens').inspect<string>('model');
  assert(after?.workspaceValue === before?.workspaceValue && after?.globalValue === before?.globalValue,
    `tokenLens.model changed: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  assert(api.modelState() === 'ready', api.modelState());
}, 90_000);

test('a start with an out-of-range learning rate is refused at the door with the allowed range', async () => {
  const before = api.fineTuneState();
  await start({ lr: 5 });
  const after = api.fineTuneState();
  assert(after.error === 'Not started: start.settings.lr: Learning rate must be from 0.000001 to 1 (got 5).', String(after.error));
  assert(after.out === before.out && after.phase === before.phase, 'something started');
});

test('the file is checked again when it changes: empty, then text, then one character', async () => {
  const uri = workspaceFile('grows.txt');
  writeFileSync(uri.fsPath, '');
  await vscode.commands.executeCommand('tokenLens.fineTuneOnFile', uri);
  assert(/is empty/.test(api.fineTuneState().fileProblem ?? ''), JSON.stringify(api.fineTuneState()));
  writeFileSync(uri.fsPath, 'Lily liked to play outside.\n');
  await eventually(() => api.fineTuneState().fileProblem === undefined, 'the empty-file problem cleared', 20_000);
  writeFileSync(uri.fsPath, 'a');
  await eventually(() => /only one character/.test(api.fineTuneState().fileProblem ?? ''), 'the one-character file refused before Start', 20_000);
}, 60_000);

export async function run(): Promise<void> {
  const summary = await runTests((line) => console.log(`[finetune] ${line}`));
  if (summary.failed > 0) throw new Error(`${summary.failed} fine-tune tests failed`);
}
