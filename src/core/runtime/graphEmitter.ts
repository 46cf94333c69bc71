// Writes plain ONNX nodes into an existing graph, in the graph's own opset: the rewrite of a fused node
// (unfuse.ts) is a list of nodes spliced in where the fused node was. Also answers what a rewrite needs
// to know about values it did not make: their rank, their float type, whether they are constants.
import { onnx } from 'onnx-proto';
import { FLOAT, INT64, tensorProto } from '../onnx/builder';

const A = onnx.AttributeProto.AttributeType;
type Attr = number | number[];

/** What is known about a graph's values before any rewrite: types from value_info, producers, constants. */
export class GraphFacts {
  readonly producer = new Map<string, onnx.INodeProto>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  private readonly types = new Map<string, onnx.ITypeProto>();

  constructor(graph: onnx.IGraphProto, outer?: GraphFacts) {
    if (outer) {
      for (const [k, v] of outer.initializers) this.initializers.set(k, v);
      for (const [k, v] of outer.types) this.types.set(k, v);
    }
    for (const t of graph.initializer ?? []) this.initializers.set(t.name!, t);
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
      if (v.type) this.types.set(v.name!, v.type);
    }
    for (const n of graph.node ?? []) {
      for (const o of n.output ?? []) this.producer.set(o, n);
      // torch.onnx writes constants (rotary caches among them) as Constant nodes.
      const value = n.opType === 'Constant' ? (n.attribute ?? []).find((a) => a.name === 'value')?.t : undefined;
      if (value) this.initializers.set(n.output![0], value);
    }
  }

  private readonly ranks = new Map<string, number | undefined>();

  /** The rank of a value when it can be told without running the graph. */
  rank(name: string, depth = 0): number | undefined {
    if (!this.ranks.has(name)) this.ranks.set(name, this.findRank(name, depth));
    return this.ranks.get(name);
  }

  private findRank(name: string, depth: number): number | undefined {
    const dims = this.types.get(name)?.tensorType?.shape?.dim;
    if (dims) return dims.length;
    const init = this.initializers.get(name);
    if (init) return (init.dims ?? []).length;
    const n = this.producer.get(name);
    if (!n || depth > 200) return undefined;
    const ins = (n.input ?? []).filter((i) => i);
    const rankOf = (i: number) => this.rank(ins[i], depth + 1);
    switch (n.opType) {
      case 'Cast': case 'Identity': case 'Slice': case 'Softmax': case 'Concat': case 'Neg': case 'Sqrt':
      case 'RotaryEmbedding': case 'Relu': case 'Tanh': case 'Sigmoid': case 'Split': case 'Erf': case 'Reciprocal':
      case 'LayerNormalization': case 'SimplifiedLayerNormalization': case 'SkipLayerNormalization':
      case 'SkipSimplifiedLayerNormalization': case 'MatMulNBits': case 'Softmax':
        return rankOf(0);
      case 'Add': case 'Sub': case 'Mul': case 'Div': case 'MatMul': case 'Where': case 'Pow': {
        // Broadcasting: the largest rank among the inputs (those that can be told).
        const ranks = ins.map((_, i) => rankOf(i)).filter((r): r is number => r !== undefined);
        return ranks.length ? Math.max(...ranks) : undefined;
      }
      case 'Gather': {
        const [data, indices] = [rankOf(0), rankOf(1)];
        return data === undefined || indices === undefined ? undefined : data + indices - 1;
      }
      case 'Unsqueeze': {
        const axes = (n.attribute ?? []).find((a) => a.name === 'axes')?.ints?.length
          ?? Number(this.initializers.get(ins[1])?.dims?.[0] ?? NaN);
        const r = rankOf(0);
        return r === undefined || Number.isNaN(axes) ? undefined : r + axes;
      }
      case 'Transpose': {
        const perm = (n.attribute ?? []).find((a) => a.name === 'perm');
        return perm ? perm.ints!.length : rankOf(0);
      }
      case 'Reshape': {
        const shape = this.initializers.get(ins[1]);
        return shape ? Number(shape.dims?.[0] ?? 0) : undefined;
      }
      default:
        return undefined;
    }
  }

  /** The element type of a value, when declared (value_info, inputs, outputs, initializers). */
  elemType(name: string): number | undefined {
    return this.types.get(name)?.tensorType?.elemType ?? this.initializers.get(name)?.dataType ?? undefined;
  }
}

/** Emits nodes named under one prefix; `nodes` then replace the fused node. */
export class GraphEmitter {
  readonly nodes: onnx.INodeProto[] = [];
  private count = 0;

  constructor(private readonly graph: onnx.IGraphProto, readonly opset: number, private readonly prefix: string,
    /** FLOAT or FLOAT16: the type of the activations the rewritten node works on. */
    readonly floatType: number) {}

  fresh(hint: string): string {
    return `${this.prefix}.${hint}_${this.count++}`;
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, output = this.fresh(opType.toLowerCase())): string {
    this.nodes.push({
      opType, name: output, input: inputs, output: [output],
      attribute: Object.entries(attrs).map(([name, v]) => Array.isArray(v)
        ? { name, type: A.INTS, ints: v }
        : Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v }),
    });
    return output;
  }

  ints(values: number[], scalar = false): string {
    const name = this.fresh('const');
    this.graph.initializer!.push(tensorProto(name, BigInt64Array.from(values, BigInt), scalar ? [] : [values.length]));
    return name;
  }

  /** A float constant of the activations' type (float16 exports get a Cast of it). */
  float(value: number): string {
    const name = this.fresh('const');
    this.graph.initializer!.push(tensorProto(name, new Float32Array([value]), []));
    return this.floatType === FLOAT ? name : this.op('Cast', [name], { to: this.floatType });
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes)]) : this.op('Unsqueeze', [x], { axes });
  }

  /** x[..., start:end] along one axis (end may be past the end). */
  slice(x: string, start: number, end: number, axis: number, step = 1): string {
    return this.op('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis]), this.ints([step])]);
  }

  /** Three equal parts of a 1-D tensor (a packed Q/K/V bias). */
  split3(x: string): string[] {
    const names = [this.fresh('part'), this.fresh('part'), this.fresh('part')];
    const attribute: onnx.IAttributeProto[] = [{ name: 'axis', type: A.INT, i: 0 }];
    // From opset 18 on, Split needs its number of outputs spelled out.
    if (this.opset >= 18) attribute.push({ name: 'num_outputs', type: A.INT, i: 3 });
    this.nodes.push({ opType: 'Split', name: names[0], input: [x], output: names, attribute });
    return names;
  }

  /** Dimension `axis` of x as a one-element int64 tensor. */
  dim(x: string, axis: number): string {
    return this.slice(this.op('Shape', [x]), axis, axis + 1, 0);
  }

  /** A one-element int64 tensor as a scalar. */
  scalar(x: string): string {
    const empty = this.fresh('const');
    this.graph.initializer!.push({ name: empty, dims: [0], dataType: INT64, rawData: new Uint8Array(0) });
    return this.op('Reshape', [x, empty]);
  }

  /** 1 / sqrt(size of x's last axis), in the activations' type: attention's default scale. */
  inverseSqrtLastDim(x: string, rank: number): string {
    const size = this.op('Cast', [this.dim(x, rank - 1)], { to: this.floatType });
    return this.op('Reciprocal', [this.op('Sqrt', [size])]);
  }
}

/** A decoder's activation float type: that of its past cache inputs, or of its logits. */
export function floatTypeOf(graph: onnx.IGraphProto): number {
  const past = (graph.input ?? []).find((i) => i.name?.startsWith('past_key_values.'));
  const logits = (graph.output ?? []).find((o) => o.name === 'logits');
  return past?.type?.tensorType?.elemType ?? logits?.type?.tensorType?.elemType ?? FLOAT;
}
