// Model config + weights <-> ONNX bytes. Initializers carry the weight names and layouts of config.ts
// unchanged, so reading weights back is a lookup by name.
import { decodeModel, encodeModel, floatsOf } from '../onnx/builder';
import { addScoringHead } from '../onnx/scoringHead';
import type { ModelConfig, Weights } from './config';
import { WriteOptions, buildGpt2Graph } from './gpt2';
import { buildLlamaGraph } from './llama';
import { weightShapes } from './random';

export function writeModelOnnx(config: ModelConfig, weights: Weights, opts: WriteOptions = {}): Uint8Array {
  const graph = config.arch === 'gpt2' ? buildGpt2Graph(config, weights, opts) : buildLlamaGraph(config, weights, opts);
  const model = graph.toModel();
  if (opts.scoringHead) addScoringHead(model);
  return encodeModel(model);
}

/** The weights of a model file this writer produced (or any file using the same initializer names). */
export function readWeightsFromOnnx(bytes: Uint8Array, config: ModelConfig): Weights {
  const shapes = weightShapes(config);
  const weights: Weights = new Map();
  for (const t of decodeModel(bytes).graph?.initializer ?? []) {
    const shape = t.name ? shapes.get(t.name) : undefined;
    if (!shape) continue;
    const dims = (t.dims ?? []).map(Number);
    if (dims.join() !== shape.join()) throw new Error(`initializer ${t.name}: shape [${dims}], expected [${shape}]`);
    weights.set(t.name!, { data: floatsOf(t), shape });
  }
  const missing = [...shapes.keys()].filter((n) => !weights.has(n));
  if (missing.length) throw new Error(`model file lacks weights: ${missing.slice(0, 5).join(', ')}`);
  return weights;
}
