// Graph surgery: expose each attention Softmax of an ONNX decoder as a graph output named
// `attentions.{layer}`, so that models exported without attention weights can still show them.
// The attention Softmax is the one whose probabilities feed the MatMul with the values.
import { onnx } from 'onnx-proto';
import { FLOAT } from '../onnx/builder';

export const ATTENTION_OUTPUT = /^attentions\.(\d+)$/;
export const NO_ATTENTION_NOTE = 'attention not available for this model export';

/** Ops that may sit between the Softmax and the MatMul without changing the probabilities' meaning. */
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Dropout', 'Where']);

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
      n.opType === 'MatMul' ||
      (depth > 0 && PASS_THROUGH.has(n.opType ?? '') && (n.output ?? []).some((o) => feedsMatMul(o, depth - 1))));
  return (graph.node ?? [])
    .filter((n) => n.opType === 'Softmax' && (n.domain ?? '') === '' && feedsMatMul(n.output![0], 2))
    .map((n) => n.output![0]);
}

/**
 * Adds `attentions.{i}` outputs to a decoded graph, in place. Returns how many layers expose attention
 * (0 when the export fused attention into one op and there is no Softmax to expose).
 */
export function exposeAttention(graph: onnx.IGraphProto): number {
  const existing = attentionOutputNames((graph.output ?? []).map((o) => o.name ?? ''));
  if (existing.length) return existing.length;
  const softmaxes = findAttentionSoftmaxes(graph);
  softmaxes.forEach((value, layer) => {
    const name = `attentions.${layer}`;
    graph.node!.push(onnx.NodeProto.create({ opType: 'Identity', name: `expose_${name}`, input: [value], output: [name] }));
    graph.output!.push(onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: FLOAT, shape: { dim: ['batch', 'heads', 'query', 'key'].map((d) => ({ dimParam: d })) } } },
    }));
  });
  return softmaxes.length;
}
