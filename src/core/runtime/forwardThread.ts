// The host side of the forward-pass worker (forwardWorker.ts): one onnxruntime session in its own thread.
// A forward pass over a full context window takes from tens of milliseconds to seconds; run on the
// caller's thread (onnxruntime-node's `run` is synchronous underneath its promise), it would freeze the
// editor that long.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { AttentionLayer } from './attentionLayer';
import type { CacheShape, ForwardResult, RawTensor } from './forward';
import type { Tail } from './tail';

export type ToForwardWorker =
  | { type: 'open'; file: string; options: ort.InferenceSession.SessionOptions; tokenizerFolder: string }
  | { type: 'run'; id: number; ids: number[]; cache: CacheShape; attentionNames: string[] | null; kv?: KvRequest; logits?: boolean }
  | { type: 'outputs'; id: number; rows: number[][]; cache: CacheShape; outputs: string[] }
  | { type: 'attention'; id: number; ids: number[]; cache: CacheShape; names: string[] }
  | { type: 'tail'; id: number; text: string; count: number; cutAtStart: boolean }
  | { type: 'drop'; state: number };

/**
 * KV caches kept in the worker between passes, by number: `from` continues the first `length` positions of a
 * kept cache (`ids` are then the tokens after them); `keep` keeps the cache after this pass under a number.
 */
export interface KvRequest {
  from?: { state: number; length: number };
  keep?: number;
}

export type FromForwardWorker =
  | { type: 'opened'; inputNames: string[]; outputNames: string[] }
  | { type: 'result'; id: number; result: ForwardResult | Record<string, RawTensor> | AttentionLayer[] | Tail }
  | { type: 'error'; id: number; message: string };

/** The worker script: the bundle next to this one (dist/), or the source when running under tsx. */
function startWorker(): Worker {
  if (__filename.endsWith('.ts')) {
    const entry = join(__dirname, 'forwardWorker.ts');
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true });
  }
  return new Worker(join(__dirname, 'forwardWorker.js'));
}

export class ForwardThread {
  private readonly pending = new Map<number, { resolve: (r: never) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure?: Error;

  private constructor(private readonly worker: Worker, readonly inputNames: string[], readonly outputNames: string[]) {
    worker.on('message', (m: FromForwardWorker) => {
      if (m.type === 'opened') return;
      const waiting = this.pending.get(m.id);
      if (!waiting) return;
      this.pending.delete(m.id);
      if (m.type === 'result') waiting.resolve(m.result as never);
      else waiting.reject(new Error(m.message));
      this.settle();
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(this.failure ?? new Error(`The model's worker thread exited (code ${code}).`)));
    this.settle();
  }

  /** Opens an onnxruntime session on `file` in a new worker thread, which tokenizes with `tokenizerFolder`'s files. */
  static open(file: string, options: ort.InferenceSession.SessionOptions, tokenizerFolder: string): Promise<ForwardThread> {
    const worker = startWorker();
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromForwardWorker) => {
        worker.off('message', onMessage);
        if (m.type === 'opened') resolve(new ForwardThread(worker, m.inputNames, m.outputNames));
        else {
          void worker.terminate();
          reject(new Error(m.type === 'error' ? m.message : 'unexpected answer from the model worker'));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`The model's worker thread exited (code ${code}) while opening the model.`)));
      worker.postMessage({ type: 'open', file, options, tokenizerFolder } satisfies ToForwardWorker);
    });
  }

  /**
   * One forward pass over `ids` (see forward.ts), continuing and keeping KV caches in the worker as asked;
   * `logits: false` leaves the [T, V] logits in the worker when the graph ranks by itself.
   */
  run(ids: number[], cache: CacheShape, attentionNames: string[] | null, kv?: KvRequest, logits = true): Promise<ForwardResult> {
    return this.ask<ForwardResult>((id) => ({ type: 'run', id, ids, cache, attentionNames, kv, logits }));
  }

  /** Lets a kept KV cache go. */
  dropState(state: number): void {
    if (!this.failure) this.worker.postMessage({ type: 'drop', state } satisfies ToForwardWorker);
  }

  /** One pass over a batch of equal-length sequences, fetching the named outputs (see runOutputs). */
  outputs(rows: number[][], cache: CacheShape, outputs: string[]): Promise<Record<string, RawTensor>> {
    return this.ask<Record<string, RawTensor>>((id) => ({ type: 'outputs', id, rows, cache, outputs }));
  }

  /** The named attention outputs (one per layer) of one pass over `ids`, each with its grid. */
  attention(ids: number[], cache: CacheShape, names: string[]): Promise<AttentionLayer[]> {
    return this.ask<AttentionLayer[]>((id) => ({ type: 'attention', id, ids, cache, names }));
  }

  /** The last `count` tokens of `text` with exact offsets (see tail.ts), tokenized in the worker. */
  tail(text: string, count: number, cutAtStart: boolean): Promise<Tail> {
    return this.ask<Tail>((id) => ({ type: 'tail', id, text, count, cutAtStart }));
  }

  private ask<R>(message: (id: number) => ToForwardWorker): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const result = new Promise<R>((resolve, reject) => this.pending.set(id, { resolve: resolve as (r: never) => void, reject }));
    this.settle();
    this.worker.postMessage(message(id));
    return result;
  }

  /** The thread keeps the process alive only while a pass is in flight. */
  private settle(): void {
    if (this.pending.size) this.worker.ref();
    else this.worker.unref();
  }

  async dispose(): Promise<void> {
    this.failure ??= new Error('The model was closed.');
    await this.worker.terminate();
  }
}
