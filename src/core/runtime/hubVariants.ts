// The decoder variants a Hub repository offers, with their sizes, before anything is downloaded: the
// Hub's tree API lists onnx/ with each file's size (LFS files carry it under `lfs.size`).
import { ModelLoadError } from './modelFiles';
import { ONNX_FILES, type OnnxFile } from './onnxFile';

export interface HubVariant extends OnnxFile {
  /** Size of the .onnx file plus its external data files (model.onnx_data, …), in bytes. */
  bytes: number;
}

interface TreeEntry { type?: string; path?: string; size?: number; lfs?: { size?: number } }

const DEFAULT_HOST = 'https://huggingface.co/';

export async function listHubVariants(id: string, opts: { remoteHost?: string; signal?: AbortSignal } = {}): Promise<HubVariant[]> {
  const host = (opts.remoteHost ?? DEFAULT_HOST).replace(/\/?$/, '/');
  const url = `${host}api/models/${id}/tree/main/onnx`;
  let entries: TreeEntry[];
  try {
    const res = await fetch(url, { signal: opts.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    entries = await res.json() as TreeEntry[];
    if (!Array.isArray(entries)) throw new Error('not a file list');
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new ModelLoadError(`Could not list the files of "${id}" at ${host}: ${(e as Error).message}`);
  }
  return variantsOf(entries);
}

/** The known decoder files among a listing of onnx/, in the order `auto` prefers them. */
export function variantsOf(entries: TreeEntry[]): HubVariant[] {
  const sizes = new Map<string, number>();
  for (const e of entries) if (e.type !== 'directory' && e.path) sizes.set(e.path, e.lfs?.size ?? e.size ?? 0);
  return ONNX_FILES.filter((f) => sizes.has(f.file)).map((f) => {
    // External data: model.onnx_data, model.onnx_data_1, … beside the file.
    let bytes = 0;
    for (const [p, size] of sizes) if (p === f.file || p.startsWith(`${f.file}_data`)) bytes += size;
    return { ...f, bytes };
  });
}
