// GGUF models already on the user's disk: Ollama's store (found through its manifests, named as Ollama
// names them, e.g. `llama3.2:1b`) and LM Studio's model folder. An Ollama model's weights are a plain
// GGUF blob, loaded as it is.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface LocalGguf {
  /** What the user sees and what `tokenLens.model` stores: `ollama:NAME` or the file's path. */
  ref: string;
  label: string;
  file: string;
  source: 'ollama' | 'lmstudio';
}

export class ModelStoreError extends Error {}

export const OLLAMA_PREFIX = 'ollama:';
const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';
const DEFAULT_REGISTRY = 'registry.ollama.ai';

export function ollamaModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OLLAMA_MODELS || path.join(os.homedir(), '.ollama', 'models');
}

export interface OllamaStore {
  models: LocalGguf[];
  /** Models the store names but cannot give (a manifest that is not JSON, weights that are gone), by name. */
  problems: { name: string; message: string }[];
}

/** Ollama's installed models, by name; throws ModelStoreError when the store is missing or unreadable. */
export function listOllamaModels(dir = ollamaModelsDir()): LocalGguf[] {
  return readOllamaStore(dir).models;
}

/** Ollama's installed models and the ones it names but cannot give; throws ModelStoreError when the store
 *  itself is missing or unreadable. */
export function readOllamaStore(dir = ollamaModelsDir()): OllamaStore {
  const manifests = path.join(dir, 'manifests');
  checkManifestsFolder(dir, manifests);
  const store: OllamaStore = { models: [], problems: [] };
  for (const manifest of walk(manifests, 4)) {
    const parts = path.relative(manifests, manifest).split(path.sep);
    if (parts.length !== 4) continue;
    const [registry, namespace, model, tag] = parts;
    const name = `${registry === DEFAULT_REGISTRY ? '' : `${registry}/`}${namespace === 'library' && registry === DEFAULT_REGISTRY ? '' : `${namespace}/`}${model}:${tag}`;
    const blob = blobOf(dir, manifest, name);
    if (typeof blob === 'string') store.models.push({ ref: OLLAMA_PREFIX + name, label: name, file: blob, source: 'ollama' });
    else if (blob) store.problems.push({ name, message: blob.problem });
  }
  store.models.sort((a, b) => a.label.localeCompare(b.label));
  return store;
}

/** The GGUF blob of an Ollama model name (`llama3.2:1b`, `llama3.2` for `:latest`). */
export function resolveOllamaModel(name: string, dir = ollamaModelsDir()): string {
  const full = name.includes(':') ? name : `${name}:latest`;
  const { models, problems } = readOllamaStore(dir);
  const hit = models.find((m) => m.label === full);
  if (hit) return hit.file;
  const problem = problems.find((p) => p.name === full);
  if (problem) throw new ModelStoreError(problem.message);
  throw new ModelStoreError(`Ollama has no model "${full}" in ${dir}` +
    (models.length ? `; installed: ${models.map((m) => m.label).join(', ')}.` : ' (none installed).'));
}

/** A missing store is the common case (no Ollama); a store that is there but cannot be read says why. */
function checkManifestsFolder(dir: string, manifests: string): void {
  let link: fs.Stats;
  try {
    link = fs.lstatSync(manifests);
  } catch {
    throw new ModelStoreError(`No Ollama models at ${dir} (no manifests folder). Set OLLAMA_MODELS if Ollama keeps them elsewhere.`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(manifests);
  } catch (e) {
    const target = link.isSymbolicLink() ? fs.readlinkSync(manifests) : undefined;
    throw new ModelStoreError(target !== undefined
      ? `Cannot read Ollama's models: ${manifests} links to ${target}, which does not exist.`
      : `Cannot read Ollama's models at ${manifests}: ${(e as Error).message}.`);
  }
  if (!stat.isDirectory()) throw new ModelStoreError(`Cannot read Ollama's models: ${manifests} is a file, not a folder of manifests.`);
}

/** The model's blob, a problem to show, or undefined for a manifest with no model layer (not a GGUF model). */
function blobOf(dir: string, manifest: string, name: string): string | { problem: string } | undefined {
  let json: { layers?: { mediaType?: string; digest?: string }[] };
  try {
    json = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new ModelStoreError(`Cannot read Ollama's manifest ${manifest}: permission denied.`);
    const why = e instanceof SyntaxError ? 'is not valid JSON' : `cannot be read (${(e as Error).message})`;
    return { problem: `Ollama's model "${name}" is unusable: its manifest ${manifest} ${why}. Pull it again: ollama pull ${name}` };
  }
  const layer = json?.layers?.find?.((l) => l?.mediaType === OLLAMA_MODEL_LAYER);
  if (!layer?.digest) return undefined;
  const blob = path.join(dir, 'blobs', layer.digest.replace(':', '-'));
  if (fs.existsSync(blob)) return blob;
  return { problem: `Ollama's model "${name}" is unusable: its weights ${blob} are missing. Pull it again: ollama pull ${name}` };
}

/** LM Studio's model folders (the current one and the older location). */
export function lmStudioDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.LMSTUDIO_MODELS) return [env.LMSTUDIO_MODELS];
  return [path.join(os.homedir(), '.lmstudio', 'models'), path.join(os.homedir(), '.cache', 'lm-studio', 'models')];
}

/** GGUF files under LM Studio's folders (publisher/model/file.gguf), vision projectors left out. */
export function listLmStudioModels(dirs = lmStudioDirs()): LocalGguf[] {
  const out: LocalGguf[] = [];
  for (const dir of dirs.filter((d) => fs.existsSync(d))) {
    for (const file of walk(dir, 3)) {
      const base = path.basename(file);
      if (!base.toLowerCase().endsWith('.gguf') || base.startsWith('mmproj')) continue;
      out.push({ ref: file, label: path.relative(dir, file), file, source: 'lmstudio' });
    }
  }
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

/** Files at most `depth` folders below `dir`. */
function walk(dir: string, depth: number): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new ModelStoreError(`Cannot read ${dir}: permission denied.`);
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return depth > 1 ? walk(p, depth - 1) : [];
    return e.isFile() ? [p] : [];
  });
}
