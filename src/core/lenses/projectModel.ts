// The plain config and weights of a model Token Lens wrote, read back from its folder: the lenses that
// rebuild the decoder (the logit lens's head, gradient attribution) need them. Foreign ONNX exports have
// no config we could rebuild the model from.
import type { DecoderConfig, Weights } from '../models/config';
import { readModelFolderMeta, readModelFolderWeights } from '../models/folder';
import type { ModelSession } from '../runtime/session';

export interface ProjectModel {
  config: DecoderConfig;
  weights: Weights;
}

export class LensUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LensUnavailableError';
  }
}

const loaded = new WeakMap<ModelSession, ProjectModel>();

/** The config and weights behind a session, read once; throws LensUnavailableError for foreign exports. */
export function projectModel(session: ModelSession, what: string): ProjectModel {
  let m = loaded.get(session);
  if (m) return m;
  let config: DecoderConfig;
  try {
    config = readModelFolderMeta(session.folder).config;
  } catch (e) {
    throw new LensUnavailableError(`${what} needs a model Token Lens wrote (imported, random or fine-tuned): ` +
      `${session.ref} is an ONNX export without a Token Lens model config. (${(e as Error).message})`);
  }
  m = { config, weights: readModelFolderWeights(session.folder, config) };
  loaded.set(session, m);
  return m;
}

/** The weights as the graph sessions of src/core/trainer take them. */
export function weightFeeds(m: ProjectModel): Map<string, Float32Array> {
  return new Map([...m.weights].map(([name, t]) => [name, t.data]));
}
