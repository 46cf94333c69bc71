// Extension-host suite for the "Get started" walkthrough, on a fresh profile with tokenLens.model unset and
// tokenLens.offline on: every step's command exists and works on the built-in stories260K, and the one-click
// Zoo fine-tune teaches it a new name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
const PROMPT = 'Once upon a time, there was a little girl named';
const note = (line: string) => console.log(`[walkthrough] ${line}`);
let api: TokenLensApi;
let ext: vscode.Extension<TokenLensApi>;
let builtin: string;
let trainedOut: string | undefined;

interface Step { id: string; description: string; media: { image?: string; markdown?: string }; completionEvents?: string[] }

function topAfterPrompt(): string | undefined {
  const a = api.lastAnalysis();
  return a && a.text === PROMPT ? a.topK(a.tokens.length - 1, 1)[0]?.text : undefined;
}

/** Explains PROMPT + " Zoo." with `model` (the configured one) and returns the ranks of the tokens of " Zoo". */
async function zooRanks(model: string): Promise<number[]> {
  const text = `${PROMPT} Zoo.`;
  const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
  editor.selection = new vscode.Selection(doc.positionAt(text.length), doc.positionAt(text.length));
  await vscode.commands.executeCommand('tokenLens.explainNextToken');
  const a = await eventually(() => {
    const last = api.lastAnalysis();
    return last?.modelId === model && last.text === text ? last : undefined;
  }, `an analysis by ${model}`, 60_000);
  return a.tokens.filter((t) => t.start >= PROMPT.length && t.start < PROMPT.length + ' Zoo'.length).map((t) => t.rank!);
}

test('activate with tokenLens.model unset', async () => {
  ext = vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!;
  api = await ext.activate();
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  assert(cfg.get<string>('model') === '', `tokenLens.model is ${JSON.stringify(cfg.get('model'))}: this suite needs it unset`);
  assert(cfg.get<boolean>('offline') === true, 'this suite runs offline');
  builtin = join(ext.extensionPath, 'dist', 'models', 'stories260K');
  assert(existsSync(join(builtin, 'onnx', 'model.onnx')), `the extension carries no built-in model at ${builtin}`);
});

test('the walkthrough\'s steps link only to registered commands and to media the extension ships', async () => {
  const walkthroughs = ext.packageJSON.contributes.walkthroughs as { id: string; steps: Step[] }[];
  const steps = walkthroughs.find((w) => w.id === 'tokenLens.start')?.steps ?? [];
  assert(steps.map((s) => s.id).join() === 'explain,hover,heatmap,finetune', `steps: ${steps.map((s) => s.id).join()}`);
  const registered = new Set(await vscode.commands.getCommands(true));
  for (const s of steps) {
    const links = [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
    const events = (s.completionEvents ?? []).filter((e) => e.startsWith('onCommand:')).map((e) => e.slice('onCommand:'.length));
    assert(links.length === 1, `step ${s.id} has ${links.length} command links`);
    for (const c of [...links, ...events]) assert(registered.has(c), `step ${s.id}: ${c} is not a registered command`);
    const media = s.media.image ?? s.media.markdown;
    assert(media && existsSync(join(ext.extensionPath, media)), `step ${s.id}: media ${media} is not in the extension`);
  }
});

test('Explain a Sample Sentence runs the built-in model at once: " Lily" first', async () => {
  await vscode.commands.executeCommand('tokenLens.walkthrough.explainSample');
  const top = await eventually(() => topAfterPrompt(), 'an analysis of the sample prompt', 90_000);
  assert(top === ' Lily', `top candidate ${JSON.stringify(top)}`);
  assert(api.lastAnalysis()!.modelId === builtin, `analysed with ${api.lastAnalysis()!.modelId}, not ${builtin}`);
  assert(api.lastMessage()?.severity !== 'error', JSON.stringify(api.lastMessage()));
  assert(vscode.window.activeTextEditor?.document.getText().startsWith(PROMPT), 'the sample story is not the active editor');
}, 120_000);

test('the hover and the heatmap work on the sample story with the built-in model', async () => {
  await vscode.commands.executeCommand('tokenLens.walkthrough.openSample');
  const editor = vscode.window.activeTextEditor!;
  const at = editor.document.positionAt(PROMPT.length + 2);   // inside " Lily"
  const md = await eventually(() => api.hoverText(editor.document.uri.toString(), at.line, at.character), 'a hover', 60_000);
  assert(/\| 1 \| `␣Lily`/.test(md), `hover:\n${md}`);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  await eventually(() => api.heatmapDecorationCount() >= 10, 'heatmap decorations', 60_000);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  await eventually(() => api.heatmapDecorationCount() === 0, 'decorations cleared', 10_000);
}, 120_000);

test('Run the Zoo Fine-tune: one click trains the built-in model, which then says " Zoo"', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  await vscode.commands.executeCommand('tokenLens.walkthrough.zooFineTune');
  const state = await eventually(() => {
    const s = api.fineTuneState();
    return s.phase === 'finished' || s.phase === 'failed' ? s : undefined;
  }, 'the Zoo run to end', 240_000, 500);
  note(`run: ${JSON.stringify({ phase: state.phase, step: state.step, file: state.file, folder: state.folder, result: state.result })}`);
  assert(state.phase === 'finished' && state.result?.exported, `the run ended ${state.phase}: ${JSON.stringify(state.result)} ${JSON.stringify(api.lastMessage())}`);
  assert(state.folder === builtin, `trained from ${state.folder}`);
  assert(state.file?.endsWith(join('walkthrough', 'zoo.txt')), `trained on ${state.file}`);
  assert(state.visible, 'the Toy Fine-tune view is not showing the run');
  assert(cfg.get<string>('model') === '', 'the run changed tokenLens.model');
  // Explain with the trained model: every token of the name it learnt is now its first guess.
  await cfg.update('model', state.out, vscode.ConfigurationTarget.Global);
  try {
    const trained = await zooRanks(state.out!);
    assert(trained.length > 0 && trained.every((r) => r === 1), `ranks of " Zoo" by the trained model: ${trained}`);
  } finally {
    await cfg.update('model', undefined, vscode.ConfigurationTarget.Global);
  }
  trainedOut = state.out;
}, 300_000);

test('Select Model… offers the built-in model first: accepting it unsets tokenLens.model and brings it back', async () => {
  assert(trainedOut, 'no trained model from the Zoo run');
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  await cfg.update('model', trainedOut, vscode.ConfigurationTarget.Global);
  try {
    const picking = Promise.resolve(vscode.commands.executeCommand('tokenLens.selectModel'));
    let done = false;
    void picking.finally(() => { done = true; });
    // Accept the first item as soon as the picker is up (Enter on its focused row).
    for (let i = 0; i < 40 && !done; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    await picking;
    const inspected = cfg.inspect<string>('model');
    assert(inspected?.globalValue === undefined && inspected?.workspaceValue === undefined, `tokenLens.model after the pick: ${JSON.stringify(inspected)}`);
  } finally {
    await cfg.update('model', undefined, vscode.ConfigurationTarget.Global);
  }
  // Back on the built-in model, " Zoo" is no first guess (it says " Lily").
  const before = await zooRanks(builtin);
  assert(before[0] > 1, `ranks of " Zoo" by the built-in model: ${before}`);
}, 120_000);

export async function run(): Promise<void> {
  const summary = await runTests(note);
  if (summary.failed > 0) throw new Error(`${summary.failed} walkthrough tests failed`);
}
