import * as vscode from 'vscode';
import { isBinaryText, sliceAround } from './documentText';
import type { Models } from './models';
import type { Analysis, ModelSession } from './runtime';

/** An analysis of `document.getText().slice(base, base + analysis.text.length)`. */
export interface DocumentAnalysis {
  analysis: Analysis;
  base: number;
  version: number;
}

interface Slice {
  start: number;
  end: number;
  result: Promise<DocumentAnalysis>;
}

/** Rough characters per token, to pick a slice the context window can hold; the runtime trims the rest. */
const CHARS_PER_TOKEN = 3;
const SLICES_PER_DOCUMENT = 4;

/**
 * Analyses of open documents, shared by the hover and the heatmap, keyed by (uri, version): an edit
 * makes every analysis of that document stale, a new model makes all of them stale.
 */
export class DocumentAnalyses implements vscode.Disposable {
  private readonly byUri = new Map<string, { version: number; session: ModelSession; slices: Slice[] }>();
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly models: Models) {
    this.disposables = [
      models.onDidChange(() => this.byUri.clear()),
      vscode.workspace.onDidCloseTextDocument((d) => this.byUri.delete(d.uri.toString())),
    ];
  }

  /**
   * The analysis whose window covers `offset`, computing one when needed. Undefined when no model is
   * loaded or the document is binary.
   */
  async covering(document: vscode.TextDocument, offset: number): Promise<DocumentAnalysis | undefined> {
    const session = this.models.ready;
    if (!session) return undefined;
    const key = document.uri.toString();
    let entry = this.byUri.get(key);
    if (!entry || entry.version !== document.version || entry.session !== session) {
      entry = { version: document.version, session, slices: [] };
      this.byUri.set(key, entry);
    }
    for (const slice of entry.slices) {
      if (offset < slice.start || offset > slice.end) continue;
      const found = await slice.result;
      if (covers(found, offset)) return found;
    }
    const text = document.getText();
    if (isBinaryText(text)) return undefined;
    const { start, end } = sliceAround(text.length, offset, session.info.contextLength * CHARS_PER_TOKEN);
    const version = document.version;
    const result = session.analyze(text.slice(start, end)).then((analysis) => ({ analysis, base: start, version }));
    entry.slices.push({ start, end, result });
    if (entry.slices.length > SLICES_PER_DOCUMENT) entry.slices.shift();
    result.catch(() => entry.slices.splice(entry.slices.findIndex((s) => s.result === result) >>> 0, 1));
    return result;
  }

  /** The newest finished analysis of a document at its current version, if any (for tests and legends). */
  async latest(document: vscode.TextDocument): Promise<DocumentAnalysis | undefined> {
    const entry = this.byUri.get(document.uri.toString());
    const last = entry?.version === document.version ? entry.slices.at(-1) : undefined;
    return last?.result.catch(() => undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function covers(d: DocumentAnalysis, offset: number): boolean {
  return d.base + d.analysis.window.start <= offset && offset <= d.base + d.analysis.window.end;
}
