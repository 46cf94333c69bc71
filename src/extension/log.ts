import * as vscode from 'vscode';

/** An error whose message is meant for the user as is; `detail` goes to the log only. */
export class UserError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

/** Thrown when the user cancels a long step (a download): reported quietly, never as a failure. */
export class Cancelled extends Error {}

/** One LogOutputChannel for the whole extension; errors reach the user as one short message. */
export class Log implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Token Lens', { log: true });
  /** The last message shown to the user, for tests. */
  lastShown?: { severity: 'info' | 'error'; message: string };
  /** How many messages were shown to the user, for tests. */
  shownCount = 0;

  info(message: string): void {
    this.channel.info(message);
  }

  /** Logs and shows an informational message. */
  notify(message: string): void {
    this.channel.info(message);
    this.lastShown = { severity: 'info', message };
    this.shownCount++;
    void vscode.window.showInformationMessage(`Token Lens: ${message}`);
  }

  /** Logs the full error and shows its short form with a way to the details. */
  report(context: string, err: unknown): void {
    if (err instanceof Cancelled || isAbort(err)) {
      this.channel.info(`${context}: cancelled (${err instanceof Error ? err.message : String(err)})`);
      this.lastShown = { severity: 'info', message: `${context} cancelled.` };
      this.shownCount++;
      void vscode.window.showInformationMessage(`Token Lens: ${context} cancelled.`);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.channel.error(`${context}: ${message}`);
    if (err instanceof UserError && err.detail) this.channel.error(err.detail);
    else if (err instanceof Error && err.stack && !(err instanceof UserError)) this.channel.error(err.stack);
    this.lastShown = { severity: 'error', message };
    this.shownCount++;
    void vscode.window.showErrorMessage(`Token Lens: ${message}`, 'Show Log').then((pick) => {
      if (pick) this.channel.show(true);
    });
  }

  dispose(): void {
    this.channel.dispose();
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
