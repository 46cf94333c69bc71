// The training graph of any decoder (src/core/models/decoder.ts) on the autodiff tape, and LoRA adapters.
import type { DecoderConfig, Weights } from '../models/config';
import { decoder, weightShapes } from '../models/decoder';
import { DType, Tape, Value } from './autodiff';
import { crossEntropy } from './nn';
import { LoraSpec, ModelWeights, isLoraTarget, loraA, loraB } from './params';
import { Rng } from './rng';
import { TapeOps } from './tapeOps';

/** LoRA adapters for the given base weights: A ~ N(0, 1/fan_in), B = 0 so training starts at the base model. */
export function initLora(c: DecoderConfig, spec: LoraSpec, seed: number): Weights {
  const rng = new Rng(seed);
  const w: Weights = new Map();
  for (const [name, [fin, fout]] of weightShapes(c)) {
    if (!isLoraTarget(name)) continue;
    const a = Float32Array.from({ length: fin * spec.rank }, () => rng.normal() / Math.sqrt(fin));
    w.set(loraA(name), { data: a, shape: [fin, spec.rank] });
    w.set(loraB(name), { data: new Float32Array(spec.rank * fout), shape: [spec.rank, fout] });
  }
  return w;
}

/** W + A @ B * alpha/r for every adapted weight: the merged model needs no adapters to run. */
export function mergeLora(base: Weights, adapters: Weights, spec: LoraSpec): Weights {
  const out: Weights = new Map(base);
  const s = spec.alpha / spec.rank;
  for (const [name, { data, shape }] of base) {
    const A = adapters.get(loraA(name)), B = adapters.get(loraB(name));
    if (!A || !B) continue;
    const [fin, fout] = shape, r = spec.rank;
    const merged = Float32Array.from(data);
    for (let i = 0; i < fin; i++) {
      for (let k = 0; k < r; k++) {
        const a = A.data[i * r + k] * s;
        if (a === 0) continue;
        for (let j = 0; j < fout; j++) merged[i * fout + j] += a * B.data[k * fout + j];
      }
    }
    out.set(name, { data: merged, shape });
  }
  return out;
}

export interface GraphSpec {
  config: DecoderConfig;
  batch: number;
  block: number;
  lora?: LoraSpec;
  dtype?: DType;
  /** Emit gradients (training step) or only the loss (evaluation). */
  grads: boolean;
  /** Also output the logits [B*T, V]. */
  logits?: boolean;
}

export interface ModelGraph {
  tape: Tape;
  loss: Value;
  logits: Value;
}

/** Inputs `idx` [B, T] and `targets` [B*T] (int64); outputs the mean cross-entropy `loss` and `grad.<param>`. */
export function buildModelGraph(s: GraphSpec): ModelGraph {
  const tape = new Tape(s.grads ? 'train_step' : 'eval', s.dtype ?? 'float32');
  const w = new ModelWeights(tape, weightShapes(s.config), s.lora);
  const ids = tape.indices('idx', [s.batch, s.block]);
  const targets = tape.indices('targets', [s.batch * s.block]);
  const logits = decoder(s.config, new TapeOps(w, ids));
  const loss = crossEntropy(logits, targets);
  const outputs: Record<string, Value> = s.logits ? { loss, logits } : { loss };
  tape.finish(outputs, s.grads ? tape.backward(loss) : undefined);
  return { tape, loss, logits };
}
