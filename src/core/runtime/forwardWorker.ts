// Entry point of the forward-pass worker thread (bundled as dist/forwardWorker.js). onnxruntime-node runs
// a session synchronously on the thread that calls it: here, so the extension host's thread stays free.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { forward, leadingPositions, runOutputs, type Past } from './forward';
import { nextTargets, rankAndTop } from './topRows';
import type { FromForwardWorker, ToForwardWorker } from './forwardThread';

const port = parentPort!;
let session: ort.InferenceSession | undefined;
/** KV caches kept for later passes (the host decides which, and counts their bytes against its budget). */
const states = new Map<number, Record<string, ort.Tensor>>();
const post = (m: FromForwardWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

port.on('message', async (m: ToForwardWorker) => {
  if (m.type === 'open') {
    try {
      session = await ort.InferenceSession.create(m.file, m.options);
      post({ type: 'opened', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
    } catch (e) {
      post({ type: 'error', id: -1, message: message(e) });
    }
    return;
  }
  if (m.type === 'drop') {
    states.delete(m.state);
    return;
  }
  try {
    if (!session) throw new Error('The model is not open.');
    if (m.type === 'outputs') {
      const out = await runOutputs(session, m.rows, m.cache, m.outputs);
      post({ type: 'result', id: m.id, result: out }, [...new Set(Object.values(out).map((t) => t.data.buffer as ArrayBuffer))]);
      return;
    }
    const from = m.kv?.from;
    const kept = from && states.get(from.state);
    if (from && !kept) throw new Error(`No kept cache ${from.state}.`);
    const past: Past | undefined = kept ? {
      length: from.length,
      tensors: Object.fromEntries(Object.entries(kept).map(([name, t]) => [name, leadingPositions(t, from.length)])),
    } : undefined;
    const { present, ...result } = await forward(session, m.ids, m.cache,
      { attentionNames: m.attentionNames, past, keepCache: m.kv?.keep !== undefined, logits: m.logits });
    if (present && m.kv?.keep !== undefined) states.set(m.kv.keep, present);
    // Ranking every row is a pass over [T, V] logits: in the graph when it can, else here, not on the editor's thread.
    result.ranked ??= rankAndTop(result.logits!, result.vocabSize, nextTargets(m.ids));
    const buffers = new Set<ArrayBuffer>(result.logits ? [result.logits.buffer as ArrayBuffer] : []);
    for (const a of [result.ranked.ranks, result.ranked.top.ids, result.ranked.top.logits]) buffers.add(a.buffer as ArrayBuffer);
    for (const a of result.attentions ?? []) buffers.add(a.buffer as ArrayBuffer);
    if (result.scores) for (const s of Object.values(result.scores)) buffers.add(s.buffer as ArrayBuffer);
    post({ type: 'result', id: m.id, result }, [...buffers]);
  } catch (e) {
    post({ type: 'error', id: m.id, message: message(e) });
  }
});
