// Model config + weights <-> ONNX bytes. Initializers carry the weight names and layouts of config.ts
// unchanged, so reading weights back is a lookup by name.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeModel, encodeModel, floatsOf } from '../onnx/builder';
import { checkExternalData, externalDataRefs } from '../runtime/externalData';
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

/** The weights of a model folder's onnx/model.onnx, with those kept in its external data file. */
export function readModelFolderWeights(dir: string, config: DecoderConfig): Weights {
  const file = join(dir, 'onnx', 'model.onnx');
  return readWeightsFromOnnx(readFileSync(file), config, file);
}

/** A tensor's bytes from its external data file (a location already checked to stay inside the model folder). */
function externalFloats(t: onnx.ITensorProto, onnxFile: string, files: Map<string, number>): Float32Array {
  const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value;
  const location = join(onnxFile, '..', entry('location') ?? '');
  const offset = Number(entry('offset') ?? 0), length = Number(entry('length'));
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || length % 4) {
    throw new Error(`model file weight ${t.name}: external data offset ${offset}, length ${length}`);
  }
  let fd = files.get(location);
  if (fd === undefined) files.set(location, (fd = openSync(location, 'r')));
  const out = new Float32Array(length / 4);
  const bytes = new Uint8Array(out.buffer);
  for (let done = 0; done < length;) {
    const n = readSync(fd, bytes, done, length - done, offset + done);
    if (n === 0) throw new Error(`model file weight ${t.name}: ${location} ends before byte ${offset + length} (truncated)`);
    done += n;
  }
  return out;
}

/**
 * The weights of a model file this writer produced. Every weight the config names must be there with its
 * shape, and every other float initializer must be one of the builder's own constants: a file that does not
 * match its config is refused rather than half read.
 */
export function readWeightsFromOnnx(bytes: Uint8Array, config: DecoderConfig, onnxFile?: string): Weights {
  const shapes = weightShapes(config);
  const weights: Weights = new Map();
  const unknown: string[] = [];
  const model = decodeModel(bytes);
  const refs = externalDataRefs(model);
  if (refs.length) {
    if (!onnxFile) throw new Error('the model file keeps its weights in an external data file: read it from its folder');
    checkExternalData(onnxFile, refs);
  }
  const files = new Map<string, number>();
  try {
    for (const t of model.graph?.initializer ?? []) {
      const name = t.name ?? '';
      const shape = shapes.get(name);
      if (!shape) {
        if (!BUILDER_CONSTANT.test(name)) unknown.push(name);
        continue;
      }
      const dims = (t.dims ?? []).map(Number);
      if (dims.join() !== shape.join()) throw new Error(`model file weight ${name}: shape [${dims}], the config says [${shape}]`);
      const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
      weights.set(name, { data: external ? externalFloats(t, onnxFile!, files) : floatsOf(t), shape });
    }
  } finally {
    for (const fd of files.values()) closeSync(fd);
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
