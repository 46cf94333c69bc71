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

/** The decoder config behind a session (only config.json is read); throws LensUnavailableError for foreign exports. */
export function projectModelConfig(session: ModelSession, what: string): DecoderConfig {
  try {
    return readModelFolderMeta(session.folder).config;
  } catch (e) {
    throw new LensUnavailableError(`${what} needs a model Token Lens wrote (imported, random or fine-tuned): ` +
      `${session.ref} is an ONNX export without a Token Lens model config. (${(e as Error).message})`);
  }
}

const loaded = new Map<string, ProjectModel>();

/** Config and weights of a model folder Token Lens wrote, read once per folder (in the lens worker). */
export function readProjectModel(folder: string): ProjectModel {
  let m = loaded.get(folder);
  if (m) return m;
  const config = readModelFolderMeta(folder).config;
  m = { config, weights: readModelFolderWeights(folder, config) };
  // One model at a time: a worker lives for one job, the cache only spares re-reading within it.
  loaded.clear();
  loaded.set(folder, m);
  return m;
}

/** The weights as the graph sessions of src/core/trainer take them. */
export function weightFeeds(m: ProjectModel): Map<string, Float32Array> {
  return new Map([...m.weights].map(([name, t]) => [name, t.data]));
}
