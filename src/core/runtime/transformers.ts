// transformers.js is large: load it on first use only, so that importing the core stays cheap.
type Transformers = typeof import('@huggingface/transformers');

let loaded: Promise<Transformers> | undefined;

export function transformers(): Promise<Transformers> {
  loaded ??= import('@huggingface/transformers').then((t) => {
    t.env.allowRemoteModels = false;
    return t;
  });
  return loaded;
}
