// The MatMuls that multiply by a stored weight: what quantization rewrites. A weight is a 2-D float
// initializer [K, N] on the MatMul's second input; activation-by-activation MatMuls (attention's Q·Kᵀ and
// P·V) have no stored weight and are found separately. Subgraphs (the branches of a merged decoder's `If`)
// are walked too, each with its own initializers.
import { onnx } from 'onnx-proto';
import { FLOAT, floatsOf } from './builder';

export const MS_DOMAIN = 'com.microsoft';

export interface StoredWeight {
  tensor: onnx.ITensorProto;
  K: number;
  N: number;
  values: Float32Array;
}

/** Every graph of a model: the main one, then each subgraph, depth first. */
export function allGraphs(graph: onnx.IGraphProto): onnx.IGraphProto[] {
  const found = [graph];
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.g) found.push(...allGraphs(a.g));
      for (const g of a.graphs ?? []) found.push(...allGraphs(g));
    }
  }
  return found;
}

/** The 2-D float32 initializer named `name` in `graph`, or undefined. */
export function storedWeight(graph: onnx.IGraphProto, name: string): StoredWeight | undefined {
  const tensor = (graph.initializer ?? []).find((t) => t.name === name);
  if (!tensor || tensor.dataType !== FLOAT || tensor.dims?.length !== 2) return undefined;
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  return { tensor, K: Number(tensor.dims[0]), N: Number(tensor.dims[1]), values: floatsOf(tensor) };
}

/** Whether any node of `graph` other than those in `except` reads `name` (then a float copy must stay). */
export function readElsewhere(graph: onnx.IGraphProto, name: string, except: Set<onnx.INodeProto>): boolean {
  const reads = (g: onnx.IGraphProto): boolean => (g.node ?? []).some((n) =>
    (!except.has(n) && (n.input ?? []).includes(name)) ||
    (n.attribute ?? []).some((a) => (a.g && reads(a.g)) || (a.graphs ?? []).some(reads)));
  return reads(graph) || (graph.output ?? []).some((o) => o.name === name);
}

/**
 * Replaces each node of `graph` for which `rewrite` returns nodes with those nodes, in place, keeping the
 * graph in topological order (the new nodes compute the same output names where the old node stood).
 */
export function replaceNodes(graph: onnx.IGraphProto, rewrite: (node: onnx.INodeProto) => onnx.INodeProto[] | undefined): number {
  let replaced = 0;
  graph.node = (graph.node ?? []).flatMap((node) => {
    const nodes = rewrite(node);
    if (!nodes) return [node];
    replaced++;
    return nodes;
  });
  return replaced;
}

/** Drops initializers that no node reads any more. */
export function dropUnread(graph: onnx.IGraphProto, names: Iterable<string>): void {
  const unread = new Set([...names].filter((n) => !readElsewhere(graph, n, new Set())));
  graph.initializer = (graph.initializer ?? []).filter((t) => !unread.has(t.name ?? ''));
}

/** Makes sure the model declares the com.microsoft operator set (MatMulNBits lives there). */
export function importMicrosoftOps(model: onnx.IModelProto): void {
  model.opsetImport ??= [];
  if (!model.opsetImport.some((o) => o.domain === MS_DOMAIN)) model.opsetImport.push({ domain: MS_DOMAIN, version: 1 });
}

export function node(opType: string, input: string[], output: string[], attrs: onnx.IAttributeProto[] = [], domain = ''): onnx.INodeProto {
  return { opType, input, output, name: `quant_${output[0]}`, attribute: attrs, domain };
}

export function intAttr(name: string, i: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

/** Round half to even, as numpy's round (which onnxruntime's quantizers use) does. */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
