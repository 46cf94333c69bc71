import * as vscode from 'vscode';
import { isBinaryText, sliceAround } from './documentText';
import type { Models } from './models';
import type { Analysis, Engine } from './runtime';

/** An analysis of `document.getText().slice(base, base + analysis.text.length)`. */
export interface DocumentAnalysis {
  analysis: Analysis;
  base: number;
  version: number;
}

/**
 * One requested analysis, shared by every view that waits for it. It is cancelled (and never reaches the
 * model) once all of them stopped waiting.
 */
interface Slice {
  start: number;
  end: number;
  result: Promise<DocumentAnalysis>;
  abort: AbortController;
  waiting: number;
  settled: boolean;
}

/** Rough characters per token, to pick a slice the context window can hold; the runtime trims the rest. */
const CHARS_PER_TOKEN = 3;
const SLICES_PER_DOCUMENT = 4;

/**
 * Analyses of open documents, shared by the hover and the heatmap, keyed by (uri, version): an edit
 * makes every analysis of that document stale (and cancels those still waiting), a new model makes all
 * of them stale. Each keeps per-token scores and top candidates; the model's memory budget bounds the rest.
 */
export class DocumentAnalyses implements vscode.Disposable {
  private readonly byUri = new Map<string, { version: number; session: Engine; slices: Slice[] }>();
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly models: Models) {
    this.disposables = [
      models.onDidChange(() => this.forgetAll()),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri.toString())),
      vscode.workspace.onDidChangeTextDocument((e) => {
        const entry = this.byUri.get(e.document.uri.toString());
        if (entry && entry.version !== e.document.version) this.forget(e.document.uri.toString());
      }),
    ];
  }

  /**
   * An analysis whose window covers the characters [from, to] (at least `to`, when the range is longer
   * than the context window), computing one when needed: the slice ends `ahead` characters past `to` (by
   * default a quarter of a window) and reaches back as far as the context window allows. Undefined when no
   * model is loaded or the document is binary. Rejects with an AbortError once `signal` aborts.
   */
  async covering(document: vscode.TextDocument, from: number, to = from, signal?: AbortSignal, ahead?: number): Promise<DocumentAnalysis | undefined> {
    const session = this.models.ready;
    if (!session) return undefined;
    throwIfAborted(signal);
    const key = document.uri.toString();
    let entry = this.byUri.get(key);
    if (!entry || entry.version !== document.version || entry.session !== session) {
      this.forget(key);
      entry = { version: document.version, session, slices: [] };
      this.byUri.set(key, entry);
    }
    let partial: DocumentAnalysis | undefined;
    for (const slice of [...entry.slices]) {
      if (to < slice.start || to > slice.end || slice.abort.signal.aborted) continue;
      const found = await this.wait(slice, signal).catch((e) => { if (signal?.aborted) throw e; });
      if (found && covers(found, to)) {
        if (covers(found, from)) return found;
        partial ??= found;
      }
    }
    if (partial) return partial;
    const text = document.getText();
    if (isBinaryText(text)) return undefined;
    const { start, end } = sliceAround(text.length, to, session.info.contextLength * CHARS_PER_TOKEN, ahead);
    const version = document.version;
    const abort = new AbortController();
    const result = session.analyze(text.slice(start, end), { signal: abort.signal })
      .then((analysis) => ({ analysis, base: start, version }));
    const slice: Slice = { start, end, result, abort, waiting: 0, settled: false };
    const settle = () => { slice.settled = true; };
    result.then(settle, () => {
      settle();
      const i = entry.slices.indexOf(slice);
      if (i >= 0) entry.slices.splice(i, 1);
    });
    entry.slices.push(slice);
    if (entry.slices.length > SLICES_PER_DOCUMENT) entry.slices.shift();
    return this.wait(slice, signal);
  }

  /** The newest finished analysis of a document at its current version, if any (for tests and legends). */
  async latest(document: vscode.TextDocument): Promise<DocumentAnalysis | undefined> {
    const entry = this.byUri.get(document.uri.toString());
    const last = entry?.version === document.version ? entry.slices.at(-1) : undefined;
    return last?.result.catch(() => undefined);
  }

  /** Waits for a slice as one of its callers; the last caller to give up cancels it. */
  private wait(slice: Slice, signal?: AbortSignal): Promise<DocumentAnalysis> {
    if (!signal) {
      slice.waiting = Infinity;
      return slice.result;
    }
    slice.waiting++;
    return new Promise<DocumentAnalysis>((resolve, reject) => {
      const onAbort = () => {
        if (--slice.waiting === 0 && !slice.settled) slice.abort.abort();
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      slice.result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private forget(key: string): void {
    const entry = this.byUri.get(key);
    if (!entry) return;
    this.byUri.delete(key);
    for (const slice of entry.slices) if (!slice.settled) slice.abort.abort();
  }

  private forgetAll(): void {
    for (const key of [...this.byUri.keys()]) this.forget(key);
  }

  dispose(): void {
    this.forgetAll();
    for (const d of this.disposables) d.dispose();
  }
}

function covers(d: DocumentAnalysis, offset: number): boolean {
  return d.base + d.analysis.window.start <= offset && offset <= d.base + d.analysis.window.end;
}

function abortError(): Error {
  const e = new Error('Cancelled.');
  e.name = 'AbortError';
  return e;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}
