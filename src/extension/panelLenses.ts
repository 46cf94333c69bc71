// The Explain panel's lenses on the host: runs the logit lens or attribution for the panel's text, one at a time,
// reports progress, and stops when cancelled or superseded. The work runs on onnxruntime's own threads (the
// forward-pass worker and async graph sessions), so the extension host's event loop stays free meanwhile.
import {
  attributionMessage, hostMessage, logitLensMessage, type HostToWebview, type LensName, type WebviewMessage,
} from '../protocol';
import { isAbort } from './log';
import { loadLenses, type Engine, type ModelSession } from './runtime';

export class PanelLenses {
  /** One run per lens: a new request supersedes the same lens's, not the other's. */
  private readonly inflight = new Map<LensName, AbortController>();

  constructor(private readonly post: (msg: HostToWebview) => void, private readonly logError: (what: string, err: unknown) => void) {}

  /** Stops the lenses at work; their status says cancelled. */
  cancel(): void {
    for (const abort of this.inflight.values()) abort.abort();
  }

  /** The logit lens of `text`: k candidates per cell. Models without hidden states get a note instead. */
  logitLens(engine: Engine, text: string, k: number): Promise<void> {
    return this.run('logitLens', 'Logit lens', async (signal, progress) => {
      const { logitLens, LensUnavailableError } = await loadLenses();
      const analysis = await engine.analyze(text, { signal });
      // The lenses re-run the ONNX graph: another engine's note says what it lacks.
      if (engine.kind !== 'onnx') return logitLensMessage(analysis, { note: engine.missing.hiddenStates ?? `${engine.kind} does not expose hidden states` });
      const session = engine as ModelSession;
      try {
        return logitLensMessage(analysis, await logitLens(session, text, k, { signal, onProgress: progress }));
      } catch (e) {
        if (!(e instanceof LensUnavailableError)) throw e;
        return logitLensMessage(analysis, { note: e.message });
      }
    });
  }

  /** Scores each token of `text` for the next token after it. */
  attribution(engine: Engine, text: string, req: Omit<WebviewMessage<'requestAttribution'>, 'type'>): Promise<void> {
    return this.run('attribution', 'Attribution', async (signal, progress) => {
      const { attribute } = await loadLenses();
      const analysis = await engine.analyze(text, { signal });
      const result = await attribute(engine, text, {
        method: req.method,
        target: req.target === null ? undefined : String(req.target),
        contrast: req.contrast === null ? undefined : String(req.contrast),
        steps: req.method === 'integrated-gradients' ? req.steps : undefined,
        signal, onProgress: progress,
      });
      return attributionMessage(analysis, result);
    });
  }

  private async run(lens: LensName, title: string,
    work: (signal: AbortSignal, progress: (done: number, total: number) => void) => Promise<HostToWebview>): Promise<void> {
    this.inflight.get(lens)?.abort();
    const abort = new AbortController();
    this.inflight.set(lens, abort);
    const status = (s: 'running' | 'cancelled' | 'failed', message: string, done = 0, total = 0) =>
      this.post(hostMessage('lensStatus', { lens, status: s, message, done, total }));
    status('running', `${title}…`);
    try {
      const result = await work(abort.signal, (done, total) => {
        if (!abort.signal.aborted) status('running', `${title}: ${done} of ${total}…`, done, total);
      });
      // A result that lands after Cancel is dropped: the panel already says cancelled.
      if (abort.signal.aborted) throw new Error('Cancelled.');
      this.post(result);
    } catch (e) {
      // A newer request superseded this one: it reports for itself.
      if (this.inflight.get(lens) !== abort) return;
      if (abort.signal.aborted || isAbort(e)) return status('cancelled', `${title} cancelled.`);
      // The lens's own tab shows the reason (e.g. a method this model cannot run); the log keeps the stack.
      this.logError(title, e);
      status('failed', e instanceof Error ? e.message : String(e));
    } finally {
      if (this.inflight.get(lens) === abort) this.inflight.delete(lens);
    }
  }
}
