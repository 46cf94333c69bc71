// The commands behind the "Get started" walkthrough: a sample story to explain, hover and colour, and the
// Zoo fine-tune of the built-in model in one click. They work offline on a fresh install.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { DEFAULT_PROBE, defaultSettings } from '../protocol';

export const OPEN_SAMPLE = 'tokenLens.walkthrough.openSample';
export const EXPLAIN_SAMPLE = 'tokenLens.walkthrough.explainSample';
export const ZOO_FINE_TUNE = 'tokenLens.walkthrough.zooFineTune';

// The built-in model learnt from stories like this one: it expects " Lily" after the prompt.
export const SAMPLE_STORY = `${DEFAULT_PROBE.prompt} Lily. She liked to play outside with her dog.
One day the quantum compiler refused to parse her sandwich.
Lily laughed and said, "Let's go home and eat cake!"
`;
/** The sentence the Zoo fine-tune learns: afterwards the model says " Zoo" where it said " Lily". */
export const ZOO_SENTENCE = `${DEFAULT_PROBE.prompt}${DEFAULT_PROBE.target}.\n`;

let sample: vscode.TextDocument | undefined;

/** Shows the sample story (an untitled document, reused while it stays open) with the prompt selected. */
export async function openSample(): Promise<vscode.TextEditor> {
  if (!sample || sample.isClosed) sample = await vscode.workspace.openTextDocument({ content: SAMPLE_STORY, language: 'plaintext' });
  const editor = await vscode.window.showTextDocument(sample, vscode.ViewColumn.One);
  editor.selection = new vscode.Selection(sample.positionAt(0), sample.positionAt(DEFAULT_PROBE.prompt.length));
  return editor;
}

/** The training file of the Zoo fine-tune, written once into the extension's storage. */
export function zooFile(storage: vscode.Uri): vscode.Uri {
  const dir = vscode.Uri.joinPath(storage, 'walkthrough');
  mkdirSync(dir.fsPath, { recursive: true });
  const file = vscode.Uri.joinPath(dir, 'zoo.txt');
  writeFileSync(file.fsPath, ZOO_SENTENCE);
  return file;
}

/** Settings of the one-click run: a full fine-tune of a model folder, probed at the Zoo prompt. */
export const zooSettings = () => defaultSettings('folder');
