// How an analysis fails: a refusal the user can act on (AnalysisError), or a request nobody waits for any
// more (AnalysisCancelled), which views drop without a word. Every engine throws these two.

export class AnalysisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisError';
  }
}

/** An analysis nobody waits for any more (the text changed, the view scrolled): never shown as an error. */
export class AnalysisCancelled extends Error {
  constructor() {
    super('Cancelled.');
    this.name = 'AbortError';
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AnalysisCancelled();
}
