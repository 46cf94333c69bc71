// Entry point of the forward-pass worker thread (bundled as dist/forwardWorker.js). onnxruntime-node runs
// a session synchronously on the thread that calls it: here, so the extension host's thread stays free.
// Tokenizing the end of a long text (milliseconds per thousand characters) and shaping attention for the
// views happen here too, for the same reason.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { attentionLayer } from './attentionLayer';
import { forward, leadingPositions, runOutputs, type Past } from './forward';
import { nextTargets, rankAndTop } from './topRows';
import { tailTokens } from './tail';
import { TextTokenizer } from './textTokenizer';
import type { FromForwardWorker, ToForwardWorker } from './forwardThread';

const port = parentPort!;
let session: ort.InferenceSession | undefined;
let tokenizerFolder: string | undefined;
let tokenizer: Promise<TextTokenizer> | undefined;
/** KV caches kept for later passes (the host decides which, and counts their bytes against its budget). */
const states = new Map<number, Record<string, ort.Tensor>>();
const post = (m: FromForwardWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

port.on('message', async (m: ToForwardWorker) => {
  if (m.type === 'open') {
    try {
      session = await ort.InferenceSession.create(m.file, m.options);
      tokenizerFolder = m.tokenizerFolder;
      tokenizer = undefined;
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
    if (m.type === 'tail') {
      const t = await textTokenizer();
      const tail = await tailTokens(m.text, m.count, (s) => t.tokenize(s), m.cutAtStart);
      post({ type: 'result', id: m.id, result: tail });
      return;
    }
    if (!session) throw new Error('The model is not open.');
    if (m.type === 'outputs') {
      const out = await runOutputs(session, m.rows, m.cache, m.outputs);
      post({ type: 'result', id: m.id, result: out }, [...new Set(Object.values(out).map((t) => t.data.buffer as ArrayBuffer))]);
      return;
    }
    if (m.type === 'attention') {
      const out = await runOutputs(session, [m.ids], m.cache, m.names);
      const layers = m.names.map((name) => {
        const { data, dims } = out[name];
        return attentionLayer(data, dims[dims.length - 3], m.ids.length);
      });
      post({ type: 'result', id: m.id, result: layers }, [...new Set(layers.map((l) => l.heads[0].buffer as ArrayBuffer))]);
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
    result.layers = result.attentions?.map((a) => attentionLayer(a, result.heads, m.ids.length));
    for (const a of result.attentions ?? []) buffers.add(a.buffer as ArrayBuffer);
    if (result.scores) for (const s of Object.values(result.scores)) buffers.add(s.buffer as ArrayBuffer);
    post({ type: 'result', id: m.id, result }, [...buffers]);
  } catch (e) {
    post({ type: 'error', id: m.id, message: message(e) });
  }
});

/** Built at the first text, from the same files as the session's own tokenizer. */
function textTokenizer(): Promise<TextTokenizer> {
  if (!tokenizerFolder) return Promise.reject(new Error('The model is not open.'));
  return (tokenizer ??= TextTokenizer.fromFolder(tokenizerFolder));
}
