// Model config + weights <-> ONNX bytes. Initializers carry the weight names and layouts of config.ts
// unchanged, so reading weights back is a lookup by name.
import type { onnx } from 'onnx-proto';
import { decodeModel, encodeModel, floatsOf } from '../onnx/builder';
import { addScoringHead } from '../onnx/scoringHead';
import type { DecoderConfig, Weights } from './config';
import { weightShapes } from './decoder';
import { buildDecoderGraph, WriteOptions } from './graphOps';

export type { WriteOptions } from './graphOps';

/** The model as an ONNX ModelProto whose initializers are views over `weights` (nothing copied yet). */
export function modelProto(config: DecoderConfig, weights: Weights, opts: WriteOptions = {}): onnx.IModelProto {
  const model = buildDecoderGraph(config, weights, opts).toModel();
  if (opts.scoringHead) addScoringHead(model);
  return model;
}

export function writeModelOnnx(config: DecoderConfig, weights: Weights, opts: WriteOptions = {}): Uint8Array {
  return encodeModel(modelProto(config, weights, opts));
}

/** Initializers the graph builder adds itself (shape and scalar constants, RoPE frequencies): not weights. */
const BUILDER_CONSTANT = /^(const_(i64|f32)|rope_inv_freq)_\d+$|^token_lens\.scoring\./;

/**
 * The weights of a model file this writer produced. Every weight the config names must be there with its
 * shape, and every other float initializer must be one of the builder's own constants: a file that does not
 * match its config is refused rather than half read.
 */
export function readWeightsFromOnnx(bytes: Uint8Array, config: DecoderConfig): Weights {
  const shapes = weightShapes(config);
  const weights: Weights = new Map();
  const unknown: string[] = [];
  for (const t of decodeModel(bytes).graph?.initializer ?? []) {
    const name = t.name ?? '';
    const shape = shapes.get(name);
    if (!shape) {
      if (!BUILDER_CONSTANT.test(name)) unknown.push(name);
      continue;
    }
    const dims = (t.dims ?? []).map(Number);
    if (dims.join() !== shape.join()) throw new Error(`model file weight ${name}: shape [${dims}], the config says [${shape}]`);
    weights.set(name, { data: floatsOf(t), shape });
  }
  const missing = [...shapes.keys()].filter((n) => !weights.has(n));
  if (missing.length) {
    const names = missing.slice(0, 5).join(', ');
    throw new Error(`the model file lacks ${missing.length} weight(s) its ${config.arch} config needs: ${names}`);
  }
  if (unknown.length) {
    const names = unknown.slice(0, 5).join(', ');
    throw new Error(`the model file has ${unknown.length} weight(s) its ${config.arch} config does not know: ${names}`);
  }
  return weights;
}
