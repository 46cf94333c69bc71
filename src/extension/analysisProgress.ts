import * as vscode from 'vscode';

export const CANCEL_WHOLE_FILE = 'tokenLens.cancelWholeFileAnalysis';

/**
 * The status-bar item of a whole-file analysis: how many windows are done, and a click that cancels it.
 * A notification would steal focus on every edit of a long file; the status bar does not.
 */
export class AnalysisProgress implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('tokenLens.wholeFileProgress', vscode.StatusBarAlignment.Right, 98);
  private readonly command: vscode.Disposable;
  private cancel?: () => void;
  /** The last text shown (for tests): "" when hidden. */
  shown = '';

  constructor() {
    this.item.name = 'Token Lens Analysis Progress';
    this.item.command = CANCEL_WHOLE_FILE;
    this.item.tooltip = 'Token Lens is analysing the whole file in windows of its context. Click to cancel.';
    this.command = vscode.commands.registerCommand(CANCEL_WHOLE_FILE, () => this.cancel?.());
  }

  /** Shows `done` of `total` windows of `name`; `cancel` runs if the user clicks. */
  report(name: string, done: number, total: number, cancel: () => void): void {
    this.cancel = cancel;
    this.shown = `$(sync~spin) Token Lens: ${name} ${done}/${total} windows`;
    this.item.text = this.shown;
    this.item.show();
  }

  /** Hides the item if it still shows the analysis that `cancel` belongs to. */
  done(cancel: () => void): void {
    if (this.cancel !== cancel) return;
    this.cancel = undefined;
    this.shown = '';
    this.item.hide();
  }

  dispose(): void {
    this.command.dispose();
    this.item.dispose();
  }
}
