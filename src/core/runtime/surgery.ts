// Graph surgery: expose each attention Softmax of an ONNX decoder as a graph output named
// `attentions.{layer}`, so that models exported without attention weights can still show them.
// The attention Softmax is the one whose probabilities feed the MatMul with the values. A merged decoder
// keeps its Softmaxes inside the branches of an `If`: they are passed out through that node.
import { onnx } from 'onnx-proto';
import { FLOAT } from '../onnx/builder';

export const ATTENTION_OUTPUT = /^attentions\.(\d+)$/;
export const NO_ATTENTION_NOTE = 'attention not available for this model export';

/**
 * Ops that may sit between the Softmax and the MatMul without changing the probabilities' meaning. In an
 * 8-bit export (quantize_dynamic) the probabilities go through DynamicQuantizeLinear into MatMulInteger.
 */
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Dropout', 'Where', 'DynamicQuantizeLinear']);
const MATMULS = new Set(['MatMul', 'MatMulInteger']);

export function attentionOutputNames(outputNames: readonly string[]): string[] {
  return outputNames
    .filter((n) => ATTENTION_OUTPUT.test(n))
    .sort((a, b) => Number(ATTENTION_OUTPUT.exec(a)![1]) - Number(ATTENTION_OUTPUT.exec(b)![1]));
}

/** Names of the Softmax outputs that feed an attention MatMul, in graph order (= layer order). */
export function findAttentionSoftmaxes(graph: onnx.IGraphProto): string[] {
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const node of graph.node ?? []) {
    for (const input of node.input ?? []) {
      if (!consumers.has(input)) consumers.set(input, []);
      consumers.get(input)!.push(node);
    }
  }
  const feedsMatMul = (value: string, depth: number): boolean =>
    (consumers.get(value) ?? []).some((n) =>
      MATMULS.has(n.opType ?? '') ||
      (depth > 0 && PASS_THROUGH.has(n.opType ?? '') && (n.output ?? []).some((o) => feedsMatMul(o, depth - 1))));
  return (graph.node ?? [])
    .filter((n) => n.opType === 'Softmax' && (n.domain ?? '') === '' && feedsMatMul(n.output![0], 2))
    .map((n) => n.output![0]);
}

/**
 * Adds `attentions.{i}` outputs to a decoded graph, in place. Returns how many layers expose attention
 * (0 when the export fused attention into one op and there is no Softmax to expose).
 * Each output is a float32 Cast of the probabilities: a float16 export's Softmax is float16, and the
 * outputs are declared float32 (for a float32 Softmax the Cast is a plain copy).
 */
export function exposeAttention(graph: onnx.IGraphProto): number {
  const existing = attentionOutputNames((graph.output ?? []).map((o) => o.name ?? ''));
  if (existing.length) return existing.length;
  const probabilities = attentionValues(graph, 0);
  probabilities.forEach((value, layer) => {
    const name = `attentions.${layer}`;
    graph.node!.push(castToFloat(value, name));
    graph.output!.push(floatOutput(name));
  });
  return probabilities.length;
}

/**
 * Values of `graph` that hold attention probabilities, in layer order: its own attention Softmaxes or,
 * when it has none, the ones an `If` node passes out of its branches. A merged decoder (Optimum's
 * decoder_model_merged.onnx) is one `If` on use_cache_branch whose two branches are whole decoders.
 */
function attentionValues(graph: onnx.IGraphProto, depth: number): string[] {
  const own = findAttentionSoftmaxes(graph);
  if (own.length) return own;
  for (const node of graph.node ?? []) {
    if (node.opType !== 'If' || (node.domain ?? '') !== '') continue;
    const branches = (node.attribute ?? []).filter((a) => a.g).map((a) => a.g!);
    const found = branches.map((g) => attentionValues(g, depth + 1));
    // Both branches must show the same layers, or the If node could not have one set of outputs.
    if (branches.length !== 2 || !found[0].length || found[0].length !== found[1].length) continue;
    // Names distinct from the outer scope's: a branch may read outer values but must not shadow them.
    const tag = `token_lens.attention.d${depth}`;
    branches.forEach((g, b) => found[b].forEach((value, i) => {
      g.node!.push(castToFloat(value, `${tag}.branch.${i}`));
      g.output!.push(floatOutput(`${tag}.branch.${i}`));
    }));
    const outputs = found[0].map((_, i) => `${tag}.if.${i}`);
    node.output!.push(...outputs);
    return outputs;
  }
  return [];
}

function castToFloat(input: string, output: string): onnx.INodeProto {
  return onnx.NodeProto.create({
    opType: 'Cast', name: `expose_${output}`, input: [input], output: [output],
    attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }],
  });
}

function floatOutput(name: string): onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: ['batch', 'heads', 'query', 'key'].map((d) => ({ dimParam: d })) } } },
  });
}
