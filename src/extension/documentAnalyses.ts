import * as vscode from 'vscode';
import { isBinaryText, sliceAround } from './documentText';
import type { Models } from './models';
import type { Analysis, Engine, ModelSession, WholeFileAnalysis } from './runtime';
import { AnalysisProgress } from './analysisProgress';
import { AnalysisCancelled, throwIfAborted } from '../core/runtime/analysisErrors';

/** An analysis of `document.getText().slice(base, base + analysis.text.length)`: one window, or the whole file. */
export interface DocumentAnalysis {
  analysis: Analysis | WholeFileAnalysis;
  base: number;
  version: number;
}

/**
 * Up to this many characters, the heatmap analyses the whole file (every token scored in strided windows);
 * beyond, only what is visible. The whole text is tokenized on the extension host at each edit: about 0.7 s
 * at this size.
 */
export const WHOLE_FILE_MAX_CHARS = 100_000;

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
  /** The whole-file analysis (read only once settled: a hover does not wait for every window). */
  whole?: boolean;
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
  private readonly byUri = new Map<string, { version: number; session: Engine; slices: Slice[]; whole?: Slice }>();
  /** The last finished whole-file analysis of each document: its unchanged windows are reused after an edit. */
  private readonly previous = new Map<string, { session: ModelSession; analysis: WholeFileAnalysis }>();
  readonly progress = new AnalysisProgress();
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly models: Models) {
    this.disposables = [
      this.progress,
      vscode.workspace.onDidCloseTextDocument((d) => this.previous.delete(d.uri.toString())),
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
    const entry = this.entryOf(document, session);
    let partial: DocumentAnalysis | undefined;
    for (const slice of [...entry.slices]) {
      if (to < slice.start || to > slice.end || slice.abort.signal.aborted || (slice.whole && !slice.settled)) continue;
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
    // Incremental: after an edit, the model runs only from the first token that changed.
    const result = session.analyze(text.slice(start, end), { signal: abort.signal, incremental: true })
      .then((analysis) => ({ analysis, base: start, version }));
    const slice: Slice = { start, end, result, abort, waiting: 0, settled: false };
    const settle = () => { slice.settled = true; };
    result.then(settle, () => {
      settle();
      const i = entry.slices.indexOf(slice);
      if (i >= 0) entry.slices.splice(i, 1);
    });
    entry.slices.push(slice);
    const oldest = entry.slices.findIndex((s) => !s.whole);
    if (entry.slices.length > SLICES_PER_DOCUMENT + (entry.whole ? 1 : 0)) entry.slices.splice(oldest, 1);
    return this.wait(slice, signal);
  }

  /**
   * The analysis of the whole document, every token scored in strided windows (undefined when no model is
   * loaded or the document is binary or longer than WHOLE_FILE_MAX_CHARS). Progress shows in the status bar,
   * where a click cancels it; it is also cancelled once nobody waits for it (an edit supersedes it).
   */
  async wholeFile(document: vscode.TextDocument, signal?: AbortSignal): Promise<DocumentAnalysis | undefined> {
    const engine = this.models.ready;
    // Strided windows continue the ONNX engine's KV caches; a masked model is scored by masking, window-free.
    if (!engine || engine.kind !== 'onnx' || engine.info.objective === 'masked') return undefined;
    const session = engine as ModelSession;
    throwIfAborted(signal);
    const key = document.uri.toString();
    const entry = this.entryOf(document, session);
    if (!entry.whole || entry.whole.abort.signal.aborted) {
      const text = document.getText();
      if (isBinaryText(text) || text.length > WHOLE_FILE_MAX_CHARS) return undefined;
      const version = document.version;
      const abort = new AbortController();
      const cancel = () => abort.abort();
      const before = this.previous.get(key);
      const name = document.uri.path.split('/').pop() ?? '';
      const result = session.analyzeWholeFile(text, {
        signal: abort.signal,
        incremental: true,
        previous: before?.session === session ? before.analysis : undefined,
        onProgress: (done, total) => { if (total > 1 && done < total) this.progress.report(name, done, total, cancel); },
      }).then((analysis) => {
        if (this.models.ready === session) this.previous.set(key, { session, analysis });
        return { analysis, base: 0, version };
      });
      const slice: Slice = { start: 0, end: text.length, result, abort, waiting: 0, settled: false, whole: true };
      result.then(() => { slice.settled = true; }, () => {
        slice.settled = true;
        const i = entry.slices.indexOf(slice);
        if (i >= 0) entry.slices.splice(i, 1);
      }).finally(() => this.progress.done(cancel));
      entry.whole = slice;
      entry.slices.unshift(slice);
    }
    return this.wait(entry.whole, signal);
  }

  private entryOf(document: vscode.TextDocument, session: Engine) {
    const key = document.uri.toString();
    let entry = this.byUri.get(key);
    if (!entry || entry.version !== document.version || entry.session !== session) {
      this.forget(key);
      entry = { version: document.version, session, slices: [] };
      this.byUri.set(key, entry);
    }
    return entry;
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
        reject(new AnalysisCancelled());
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
    this.previous.clear();
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
