// Exports that fuse attention into one onnxruntime op (com.microsoft Attention, MultiHeadAttention,
// GroupQueryAttention: onnxruntime's transformer optimizer and onnxruntime-genai write them) have no
// Softmax to expose. Each fused node is replaced by the plain ops it computes (unfuseOps.ts), in its own
// graph or `If` branch, so that the same surgery as for explicit exports finds the attention. RotaryEmbedding
// nodes are written out too when they can be. Either every fused attention node is rewritten or none is:
// attention from some layers only would be a misleading picture.
import { onnx } from 'onnx-proto';
import { defaultOpset } from '../onnx/scoringHead';
import { GraphEmitter, GraphFacts, floatTypeOf } from './graphEmitter';
import { Rewrite, attentionOp, groupQueryAttentionOp, multiHeadAttentionOp, rotaryEmbeddingOp } from './unfuseOps';

const ATTENTION_OPS: Record<string, (n: onnx.INodeProto, f: GraphFacts) => Rewrite> = {
  Attention: attentionOp,
  MultiHeadAttention: multiHeadAttentionOp,
  GroupQueryAttention: groupQueryAttentionOp,
};
const OTHER_OPS: Record<string, (n: onnx.INodeProto, f: GraphFacts) => Rewrite> = {
  RotaryEmbedding: rotaryEmbeddingOp,
};

export interface UnfuseResult {
  /** Fused attention nodes written out. */
  rewritten: number;
  /** Why the fused attention stays fused (then nothing was changed), e.g. "GroupQueryAttention with softcap 50". */
  keptFused?: string;
}

interface Plan { graph: onnx.IGraphProto; node: onnx.INodeProto; facts: GraphFacts; rewrite: Rewrite }

export function unfuseAttention(model: onnx.IModelProto): UnfuseResult {
  const plans: Plan[] = [];
  const collect = (graph: onnx.IGraphProto, outer?: GraphFacts) => {
    const facts = new GraphFacts(graph, outer);
    for (const node of graph.node ?? []) {
      const make = node.domain === 'com.microsoft' ? ATTENTION_OPS[node.opType!] ?? OTHER_OPS[node.opType!] : undefined;
      if (make) plans.push({ graph, node, facts, rewrite: make(node, facts) });
      for (const a of node.attribute ?? []) if (a.g) collect(a.g, facts);
    }
  };
  collect(model.graph!);
  if (!plans.length) return { rewritten: 0 };
  const attention = plans.filter((p) => p.node.opType! in ATTENTION_OPS);
  const opset = defaultOpset(model);
  if (opset < 11) return { rewritten: 0, keptFused: `fused attention in a file of opset ${opset} (before 11)` };
  const blocked = attention.find((p) => typeof p.rewrite === 'string');
  if (blocked) return { rewritten: 0, keptFused: blocked.rewrite as string };

  const modelFloat = floatTypeOf(model.graph!);
  const byGraph = new Map<onnx.IGraphProto, Map<onnx.INodeProto, Plan>>();
  for (const p of plans) {
    if (typeof p.rewrite === 'string') continue;
    if (!byGraph.has(p.graph)) byGraph.set(p.graph, new Map());
    byGraph.get(p.graph)!.set(p.node, p);
  }
  let count = 0;
  for (const [graph, planned] of byGraph) {
    graph.initializer ??= [];
    graph.node = (graph.node ?? []).flatMap((node) => {
      const p = planned.get(node);
      if (!p) return [node];
      const floatType = p.facts.elemType(node.input![0]) ?? modelFloat;
      const e = new GraphEmitter(graph, opset, `token_lens.unfuse.${count++}`, floatType);
      (p.rewrite as (e: GraphEmitter) => void)(e);
      return e.nodes;
    });
  }
  return { rewritten: attention.length };
}
