// The logit lens at the cursor, as an inline hint at the end of the line (setting tokenLens.logitLens.inlineHint,
// off by default): the model's next-token guess after the text before the cursor, and the block from which that
// guess settles. Like the hover, it never loads a model on its own; it runs when the cursor rests.
import * as vscode from 'vscode';
import { CHARS_PER_CONTEXT_TOKEN, explainTarget } from './documentText';
import { isAbort, type Log } from './log';
import type { Models } from './models';
import { loadLenses, type ModelSession } from './runtime';

const SETTING = 'tokenLens.logitLens.inlineHint';
/** The cursor rests this long before the lens runs: typing never waits on it. */
const REST_MS = 400;

export class LogitLensHint implements vscode.Disposable {
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), fontStyle: 'italic', margin: '0 0 0 2em' },
  });
  private readonly disposables: vscode.Disposable[] = [this.decoration];
  private timer?: ReturnType<typeof setTimeout>;
  private inflight?: AbortController;
  /** The hint on screen (undefined: none), for tests. */
  shown?: string;

  constructor(private readonly models: Models, private readonly log: Log) {
    this.disposables.push(
      vscode.window.onDidChangeTextEditorSelection((e) => this.schedule(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((e) => this.schedule(e)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SETTING)) this.schedule(vscode.window.activeTextEditor);
      }),
      models.onDidChange(() => this.schedule(vscode.window.activeTextEditor)),
    );
  }

  private get enabled(): boolean {
    return vscode.workspace.getConfiguration().get<boolean>(SETTING, false);
  }

  private schedule(editor: vscode.TextEditor | undefined): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    if (!editor || !this.enabled) return this.clear();
    this.timer = setTimeout(() => void this.update(editor), REST_MS);
  }

  private clear(): void {
    for (const e of vscode.window.visibleTextEditors) e.setDecorations(this.decoration, []);
    this.shown = undefined;
  }

  private async update(editor: vscode.TextEditor): Promise<void> {
    const engine = this.models.ready;
    // The hint needs hidden states: only the ONNX engine gives them.
    if (!engine || engine.kind !== 'onnx' || editor.document.uri.scheme === 'output') return this.clear();
    const session = engine as ModelSession;
    const doc = editor.document;
    const cursor = editor.selection.active;
    const offset = doc.offsetAt(cursor);
    const read = (start: number, end: number) => doc.getText(new vscode.Range(doc.positionAt(start), doc.positionAt(end)));
    const target = explainTarget(read, offset, offset, session.info.contextLength * CHARS_PER_CONTEXT_TOKEN);
    if ('problem' in target) return this.clear();
    const abort = (this.inflight = new AbortController());
    let text: string;
    try {
      const { logitLens, LensUnavailableError } = await loadLenses();
      try {
        // Only the last position is decoded: the hint says what comes next.
        const lens = await logitLens(session, target.text, 1, { signal: abort.signal, lastPosition: true });
        const guess = lens.top[lens.layers - 1][0][0];
        text = `next ${JSON.stringify(guess.text)} ${(guess.prob * 100).toFixed(0)}% · settles at block ${lens.decisionDepth[0]} of ${lens.layers - 1}`;
      } catch (e) {
        if (!(e instanceof LensUnavailableError)) throw e;
        text = 'no logit lens: this model does not output its hidden states';
      }
    } catch (e) {
      if (!abort.signal.aborted && !isAbort(e)) this.log.channel.warn(`Logit lens hint: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (abort.signal.aborted || vscode.window.activeTextEditor !== editor) return;
    const end = doc.lineAt(cursor.line).range.end;
    editor.setDecorations(this.decoration, [{ range: new vscode.Range(end, end), renderOptions: { after: { contentText: `Token Lens: ${text}` } } }]);
    this.shown = text;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    for (const d of this.disposables) d.dispose();
  }
}
