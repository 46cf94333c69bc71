// The logit lens (nostalgebraist 2020): the residual stream after each block, decoded through the model's
// own final norm and unembedding, as if the model stopped there. Where the final prediction first appears
// and then stays ("decision depth") shows how deep the model had to think about each token.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelSession } from '../runtime/session';
import { LENS_HEAD_FILE } from '../runtime/hiddenStates';
import { hiddenStatesNote } from '../runtime/prepare';
import type { DecodedRows } from './logitLensHead';
import { runLensJob } from './lensThread';
import { LensUnavailableError, projectModelConfig } from './projectModel';

export interface LensCandidate { id: number; text: string; prob: number }

export interface LogitLens {
  /** Blocks of the model: top[l] reads the stream after block l; top[layers - 1] is the model's output. */
  layers: number;
  /** top[layer][position]: the k likeliest next tokens after tokens[position], by falling probability. */
  top: LensCandidate[][][];
  /** Per position: the first layer from which the final top-1 stays top-1. */
  decisionDepth: number[];
}

export const NO_HIDDEN_STATES_NOTE = 'the logit lens needs the hidden states after each block, which this ' +
  'model export does not output: models Token Lens writes (import-llama2c, write-random, fine-tune) do; ' +
  'write or import this one again';

export interface LogitLensOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Decode the last position only (top[l] and decisionDepth then hold one entry): what comes next, cheaply. */
  lastPosition?: boolean;
}

export async function logitLens(session: ModelSession, text: string, k: number, opts: LogitLensOptions = {}): Promise<LogitLens> {
  const names = session.hiddenStateNames;
  if (!names.length) {
    // A foreign export whose blocks surgery could not find says why; other models need writing again.
    const why = hiddenStatesNote(session.folder);
    throw new LensUnavailableError(`No logit lens for ${session.ref}: ${why
      ? `the hidden states after each block could not be found in this export (${why})` : NO_HIDDEN_STATES_NOTE}.`);
  }
  // Surgery cut a foreign export's own final norm and unembedding out as the lens head; models Token Lens
  // wrote rebuild theirs from their config.
  const foreignHead = path.join(session.folder, 'onnx', LENS_HEAD_FILE);
  const headFile = fs.existsSync(foreignHead) ? foreignHead : undefined;
  if (!headFile) projectModelConfig(session, 'The logit lens');
  const analysis = await session.analyze(text, { signal: opts.signal });
  const ids = analysis.tokens.map((t) => t.id);
  const out = await session.run([ids], names, opts.signal);
  const L = names.length, C = out[names[0]].dims[2], V = analysis.vocabSize;
  const first = opts.lastPosition ? ids.length - 1 : 0, T = ids.length - first;
  const kk = Math.min(k, V);
  const hidden = new Float32Array(L * T * C);
  names.forEach((n, l) => hidden.set((out[n].data as Float32Array).subarray(first * C), l * T * C));
  // The head runs in the lens worker: the caller's thread stays free, and Cancel ends it at once.
  const d = await runLensJob<DecodedRows>({ type: 'logitLens', folder: session.folder, headFile, hidden, rows: L * T, width: C, vocab: V, k: kk }, opts);
  const top: LensCandidate[][][] = Array.from({ length: L }, (_, l) => Array.from({ length: T }, (__, i) =>
    Array.from({ length: kk }, (___, j) => {
      const at = (l * T + i) * kk + j;
      return { id: d.ids[at], text: session.tokenText(d.ids[at]), prob: d.probs[at] };
    })));
  return { layers: L, top, decisionDepth: decisionDepths(top) };
}

/** The first layer from which each position's top-1 equals the last layer's and stays so. */
export function decisionDepths(top: LensCandidate[][][]): number[] {
  const L = top.length;
  return top[L - 1].map((final, i) => {
    let l = L - 1;
    while (l > 0 && top[l - 1][i][0].id === final[0].id) l--;
    return l;
  });
}
