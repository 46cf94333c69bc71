// Graph surgery for the logit lens on ONNX exports Token Lens did not write: the residual stream after
// each block becomes a graph output `hidden_states.{l}`, and the model's own final norm and unembedding
// are cut out into a small "lens head" model that decodes any row of stream.
// In a pre-norm transformer every block starts by normalising the stream, and the final norm reads the
// stream after the last block; so the stream after block l is the input of block l+1's first norm, and
// after the last block the input of the final norm. Norms are found as the ops they are exported as:
// LayerNormalization, (Skip)SimplifiedLayerNormalization, SkipLayerNormalization (whose fourth output is
// the stream: input + skip), or torch.onnx's decomposition (ReduceMean of x next to Sub(x, mean); or
// ReduceMean of Pow(x, 2) for RMSNorm).
import { onnx } from 'onnx-proto';
import { FLOAT, INT64, tensorProto } from '../onnx/builder';
import { defaultOpset } from '../onnx/scoringHead';
import { GraphFacts, floatTypeOf } from './graphEmitter';

export const LENS_HEAD_FILE = 'lens_head.onnx';
const A = onnx.AttributeProto.AttributeType;

export interface HiddenStatesResult {
  /** Blocks whose output stream is now a graph output (0 when none). */
  layers: number;
  /** The final norm and unembedding as a model: input `hidden` [1, rows, C] float32 and `k` [1];
   *  outputs `top_logits`, `top_ids` [1, rows, k] and `logsumexp` [1, rows]. */
  head?: onnx.IModelProto;
  /** Why there are none. */
  note?: string;
}

interface Norm {
  /** The value holding the stream the norm reads. */
  stream: string;
  node: onnx.INodeProto;
  /** A Skip*Normalization: the stream is its input + skip (+ bias), its output 3. */
  skip: boolean;
}

const SKIP_NORMS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);
const NORMS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization']);

/** The normalisations of a graph in graph order (= data-flow order), each with the stream it reads. */
function findNorms(graph: onnx.IGraphProto, facts: GraphFacts): Norm[] {
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const norms: Norm[] = [];
  for (const n of graph.node ?? []) {
    const input = n.input?.[0] ?? '';
    if (NORMS.has(n.opType!)) norms.push({ stream: input, node: n, skip: false });
    else if (SKIP_NORMS.has(n.opType!)) {
      while (n.output!.length < 4) n.output!.push('');
      if (!n.output![3]) n.output![3] = `token_lens.stream.${n.name || norms.length}_${n.output![0]}`;
      norms.push({ stream: n.output![3], node: n, skip: true });
    } else if (n.opType === 'ReduceMean') {
      // LayerNorm: mean = ReduceMean(x), then Sub(x, mean).
      if ((consumers.get(n.output![0]) ?? []).some((c) => c.opType === 'Sub' && c.input![0] === input && c.input![1] === n.output![0])) {
        norms.push({ stream: input, node: n, skip: false });
        continue;
      }
      // RMSNorm: ReduceMean(Pow(x, 2)), where x is not already centred (LayerNorm's variance).
      const pow = facts.producer.get(input);
      const x = pow?.opType === 'Pow' || (pow?.opType === 'Mul' && pow.input![0] === pow.input![1]) ? pow.input![0] : undefined;
      const centred = x !== undefined && facts.producer.get(x)?.opType === 'Sub'
        && facts.producer.get(facts.producer.get(x)!.input![1])?.opType === 'ReduceMean';
      if (x !== undefined && !centred) norms.push({ stream: x, node: n, skip: false });
    }
  }
  // Norms inside a block that do not read the stream (Qwen3's per-head q/k norms read reshaped projections,
  // Gemma 2's post-norms read a sublayer's output) are not block boundaries: the stream is made by a residual
  // Add, the embedding (Gather, scaled by a Mul in Gemma), a Skip norm, or comes in as a graph input.
  const inputs = new Set((graph.input ?? []).map((i) => i.name));
  const readsStream = (norm: Norm): boolean => {
    if (norm.skip) return true;
    let p = facts.producer.get(norm.stream);
    while (p && (p.opType === 'Cast' || p.opType === 'Identity')) p = facts.producer.get(p.input![0]);
    return !p ? inputs.has(norm.stream) : ['Add', 'Gather', 'Mul'].includes(p.opType!) || SKIP_NORMS.has(p.opType!);
  };
  return norms.filter(readsStream);
}

/** The stream values after each of `layers` blocks, or why they cannot be told. */
function blockStreams(norms: Norm[], layers: number): { streams: string[]; final: Norm } | string {
  if (norms.length === 2 * layers + 1) return { streams: norms.filter((_, i) => i % 2 === 0).slice(1).map((n) => n.stream), final: norms[2 * layers] };
  // One norm per block (parallel attention and MLP, as in GPT-J and Phi).
  if (norms.length === layers + 1) return { streams: norms.slice(1).map((n) => n.stream), final: norms[layers] };
  return `found ${norms.length} normalisations for ${layers} blocks, not the 2 per block (or 1) and a final one of a pre-norm decoder`;
}

/**
 * Adds `hidden_states.{l}` outputs (float32) to a decoded model, in place, and cuts out its lens head.
 * `layers` is the model's block count (config.json). A merged decoder's streams are passed out of its `If`.
 */
export function exposeHiddenStates(model: onnx.IModelProto, layers: number): HiddenStatesResult {
  const graph = model.graph!;
  if ((graph.output ?? []).some((o) => o.name?.startsWith('hidden_states.'))) return { layers: 0, note: 'the export already has hidden_states outputs' };
  if (!layers) return { layers: 0, note: 'config.json does not say how many blocks the model has' };
  const top = new GraphFacts(graph);
  const found = blockStreams(findNorms(graph, top), layers);
  const ifNode = (graph.node ?? []).find((n) => n.opType === 'If');
  if (typeof found === 'string' && ifNode) {
    // A merged decoder: both branches are whole decoders; the stream comes out through the If.
    const branches = (ifNode.attribute ?? []).filter((a) => a.g).map((a) => a.g!);
    const logitsAt = ifNode.output!.indexOf('logits');
    const inBranches = branches.map((g) => {
      const facts = new GraphFacts(g, top);
      return { graph: g, facts, found: blockStreams(findNorms(g, facts), layers), logits: g.output![logitsAt]?.name ?? '' };
    });
    if (branches.length === 2 && logitsAt >= 0 && inBranches.every((b) => typeof b.found !== 'string')) {
      const first = inBranches[0];
      const head = lensHead(model, first.graph, first.facts, (first.found as { final: Norm }).final, first.logits);
      if (typeof head === 'string') return { layers: 0, note: head };
      const outs = Array.from({ length: layers }, (_, l) => `token_lens.hidden.if.${l}`);
      for (const b of inBranches) {
        (b.found as { streams: string[] }).streams.forEach((s, l) => {
          const name = `token_lens.hidden.branch.${l}`;
          b.graph.node!.push(castNode(s, name));
          b.graph.output!.push(streamOutput(name));
        });
      }
      ifNode.output!.push(...outs);
      outs.forEach((o, l) => {
        graph.node!.push({ opType: 'Identity', name: `hidden_states.${l}`, input: [o], output: [`hidden_states.${l}`] });
        graph.output!.push(streamOutput(`hidden_states.${l}`));
      });
      return { layers, head };
    }
  }
  if (typeof found === 'string') return { layers: 0, note: found };
  const head = lensHead(model, graph, top, found.final, 'logits');
  if (typeof head === 'string') return { layers: 0, note: head };
  found.streams.forEach((s, l) => {
    graph.node!.push(castNode(s, `hidden_states.${l}`));
    graph.output!.push(streamOutput(`hidden_states.${l}`));
  });
  return { layers, head };
}

/** The nodes from the final norm's stream to the logits, as a model of their own with top-k on the end. */
function lensHead(model: onnx.IModelProto, graph: onnx.IGraphProto, facts: GraphFacts, final: Norm, logits: string): onnx.IModelProto | string {
  const inGraph = new Set((graph.node ?? []));
  const nodes: onnx.INodeProto[] = [];
  const needed = new Set<string>();
  const seen = new Set<string>();
  const stack = [logits];
  // Walk back from the logits; the final norm's own inputs are replaced by the stream.
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v) || !v) continue;
    seen.add(v);
    if (v === final.stream && !final.skip) continue;
    const n = facts.producer.get(v);
    if (!n || !inGraph.has(n)) {
      if (facts.initializers.has(v)) { needed.add(v); continue; }
      return `the unembedding reads "${v}", which is not a weight (the head depends on the input)`;
    }
    if (nodes.includes(n)) continue;
    nodes.push(n);
    if (n === final.node && final.skip) {
      for (const i of n.input!.slice(2, 4)) if (i) stack.push(i);
      continue;
    }
    for (const i of n.input ?? []) stack.push(i);
  }
  if (!nodes.includes(final.node)) return 'the logits do not come from the last normalisation';
  const order = new Map((graph.node ?? []).map((n, i) => [n, i]));
  nodes.sort((a, b) => order.get(a)! - order.get(b)!);
  const opset = defaultOpset(model);
  const streamType = facts.elemType(final.skip ? final.node.input![0] : final.stream) ?? floatTypeOf(model.graph!);
  const headNodes: onnx.INodeProto[] = [];
  // Weights (an outer graph's Constant node counts as one: its tensor is copied under the value's name).
  const init: onnx.ITensorProto[] = [...needed].map((v) => ({ ...facts.initializers.get(v)!, name: v }));
  const hidden = streamType === FLOAT ? 'hidden' : 'hidden_cast';
  if (streamType !== FLOAT) headNodes.push(castNode('hidden', 'hidden_cast', streamType));
  for (const n of nodes) {
    const copy = onnx.NodeProto.create({ ...n, input: [...(n.input ?? [])], output: [...(n.output ?? [])] });
    if (n === final.node && final.skip) {
      // norm(stream): the stream as input, nothing added to it.
      headNodes.push({ opType: 'Sub', name: 'token_lens.zero', input: [hidden, hidden], output: ['token_lens.zero'] });
      copy.input = [hidden, 'token_lens.zero', ...n.input!.slice(2, 4)];
      copy.output = [n.output![0]];
    } else {
      copy.input = copy.input!.map((i) => (i === final.stream ? hidden : i));
    }
    headNodes.push(copy);
  }
  const logitsFloat = 'token_lens.logits_float';
  headNodes.push(castNode(logits, logitsFloat));
  headNodes.push({ opType: 'TopK', name: 'top', input: [logitsFloat, 'k'], output: ['top_logits', 'top_ids_raw'], attribute: [{ name: 'axis', type: A.INT, i: -1 }] });
  headNodes.push({ opType: 'Identity', name: 'top_ids', input: ['top_ids_raw'], output: ['top_ids'] });
  const axes = 'token_lens.axes';
  init.push(tensorProto(axes, BigInt64Array.from([-1n]), [1]));
  headNodes.push(opset >= 18
    ? { opType: 'ReduceLogSumExp', name: 'lse', input: [logitsFloat, axes], output: ['logsumexp'], attribute: [{ name: 'keepdims', type: A.INT, i: 0 }] }
    : { opType: 'ReduceLogSumExp', name: 'lse', input: [logitsFloat], output: ['logsumexp'], attribute: [{ name: 'axes', type: A.INTS, ints: [-1] }, { name: 'keepdims', type: A.INT, i: 0 }] });
  const io = (name: string, type: number, dims: (number | string)[]) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  return onnx.ModelProto.create({
    irVersion: model.irVersion, opsetImport: model.opsetImport, producerName: 'token-lens lens head',
    graph: {
      name: 'lens_head', node: headNodes, initializer: init,
      input: [io('hidden', FLOAT, [1, 'rows', 'hidden']), io('k', INT64, [1])],
      output: [io('top_logits', FLOAT, [1, 'rows', 'k']), io('top_ids', INT64, [1, 'rows', 'k']), io('logsumexp', FLOAT, [1, 'rows'])],
    },
  });
}

/**
 * Points the head's weights at their bytes inside the model file, as ONNX external data with an offset,
 * instead of storing them twice: the unembedding is often the largest matrix of a model. Weights that are
 * not found byte for byte (or are small) stay in the head.
 */
export function shareWeights(head: onnx.IModelProto, modelBytes: Uint8Array, modelFile: string, minBytes = 1024): void {
  const file = Buffer.from(modelBytes.buffer, modelBytes.byteOffset, modelBytes.byteLength);
  for (const t of head.graph!.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.length < minBytes || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const probe = bytes.subarray(0, 64);
    for (let at = file.indexOf(probe); at >= 0; at = file.indexOf(probe, at + 1)) {
      if (bytes.compare(file, at, at + bytes.length) !== 0) continue;
      delete t.rawData;
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: modelFile }, { key: 'offset', value: String(at) }, { key: 'length', value: String(bytes.length) },
      ];
      break;
    }
  }
}

function castNode(input: string, output: string, to = FLOAT): onnx.INodeProto {
  return { opType: 'Cast', name: `expose_${output}`, input: [input], output: [output], attribute: [{ name: 'to', type: A.INT, i: to }] };
}

function streamOutput(name: string): onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType: FLOAT, shape: { dim: ['batch', 'sequence', 'hidden'].map((d) => ({ dimParam: d })) } } },
  });
}
