// Where a model's weights enter the graph: as trainable parameters, or (LoRA, Hu et al. 2021) as frozen
// inputs with trainable low-rank adapters on the attention projections.
import { Tape, Value } from './autodiff';
import { add, matmul, scale } from './ops';

export interface LoraSpec {
  rank: number;
  /** Adapters are scaled by alpha / rank. */
  alpha: number;
}

/** The attention projections that LoRA adapts: q, k, v, o. */
export const isLoraTarget = (name: string) => /\.attn\.[qkvo]\.weight$/.test(name);
export const loraA = (name: string) => `${name}.lora_A`;
export const loraB = (name: string) => `${name}.lora_B`;

export class ModelWeights {
  private values = new Map<string, Value>();

  constructor(readonly t: Tape, private readonly shapes: Map<string, number[]>, readonly lora?: LoraSpec) {}

  get(name: string): Value {
    let v = this.values.get(name);
    if (!v) {
      const shape = this.shapes.get(name);
      if (!shape) throw new Error(`unknown weight ${name}`);
      v = this.lora ? this.t.weight(name, shape) : this.t.param(name, shape);
      this.values.set(name, v);
    }
    return v;
  }

  /** y (= x @ W), plus (x @ A) @ B * alpha/r when W carries a LoRA adapter. */
  adapt(x: Value, name: string, y: Value): Value {
    if (!this.lora || !isLoraTarget(name)) return y;
    const [fin, fout] = this.shapes.get(name)!;
    const A = this.t.param(loraA(name), [fin, this.lora.rank]);
    const B = this.t.param(loraB(name), [this.lora.rank, fout]);
    return add(y, scale(matmul(matmul(x, A), B), this.lora.alpha / this.lora.rank));
  }
}
