// transformers.js is large: load it on first use only, so that importing the core stays cheap.
type Transformers = typeof import('@huggingface/transformers');

let loaded: Promise<Transformers> | undefined;

export function transformers(): Promise<Transformers> {
  loaded ??= import('@huggingface/transformers').then((t) => {
    t.env.allowRemoteModels = false;
    return t;
  });
  return loaded;
}

/**
 * transformers.js reads the Hub host, the cache folder, fetch and what it may load from its global `env`,
 * not per call. Two loads changing it at once would send each other's requests to the wrong host and
 * restore `env` in the wrong order, so whatever sets `env` and loads through it takes turns here. A caller
 * waiting for its turn can still be cancelled (it then rejects with `cancelled()`).
 */
let turn: Promise<void> = Promise.resolve();

export async function withTransformersEnv<T>(signal: AbortSignal | undefined, cancelled: () => Error,
  work: () => Promise<T>): Promise<T> {
  const previous = turn;
  let done!: () => void;
  turn = new Promise<void>((resolve) => { done = resolve; });
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(cancelled());
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void previous.then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return await work();
  } finally {
    // A caller that gave up while waiting passes its turn on only once the one before it has finished.
    void previous.then(done);
  }
}
