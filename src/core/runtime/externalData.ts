// Weights stored outside the .onnx file ("external data"): each tensor names a file by a `location` relative to
// the model file's folder. A model file comes from anywhere (the Hub, a download, a colleague), so a location
// must never reach outside that folder: no absolute path, no `..` climbing out, no symlink pointing away.
// A prepared copy needs the same files beside its rewritten model file: hard links, or copies where linking is
// impossible (another drive, a file system without links). Symlinks would not do: onnxruntime resolves them and
// refuses data outside the model's folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { ModelLoadError } from './modelFiles';

export interface ExternalRef { tensor: string; location: string }

/** Every tensor with external data in a model: initializers, sparse ones, constants in nodes, subgraphs. */
export function externalDataRefs(model: onnx.IModelProto): ExternalRef[] {
  const refs: ExternalRef[] = [];
  const tensor = (t: onnx.ITensorProto | null | undefined) => {
    if (!t || t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? '';
    refs.push({ tensor: t.name ?? '(unnamed)', location });
  };
  const sparse = (s: onnx.ISparseTensorProto | null | undefined) => { tensor(s?.values); tensor(s?.indices); };
  const nodes = (list: onnx.INodeProto[] | null | undefined) => {
    for (const n of list ?? []) {
      for (const a of n.attribute ?? []) {
        tensor(a.t);
        sparse(a.sparseTensor);
        a.tensors?.forEach(tensor);
        a.sparseTensors?.forEach(sparse);
        if (a.g) graph(a.g);
        a.graphs?.forEach(graph);
      }
    }
  };
  const graph = (g: onnx.IGraphProto) => {
    g.initializer?.forEach(tensor);
    g.sparseInitializer?.forEach(sparse);
    nodes(g.node);
  };
  if (model.graph) graph(model.graph);
  for (const f of model.functions ?? []) nodes(f.node);
  return refs;
}

/**
 * Checks every location of `onnxFile`'s external data and returns the distinct relative paths; throws a
 * ModelLoadError naming the model file, the tensor and the location otherwise.
 */
export function checkExternalData(onnxFile: string, refs: ExternalRef[]): string[] {
  const dir = path.dirname(onnxFile);
  const realDir = fs.realpathSync(dir);
  const files = new Set<string>();
  for (const { tensor, location } of refs) {
    const refuse = (why: string) => new ModelLoadError(
      `${onnxFile}: the weights of "${tensor}" are stored at "${location}", ${why}. Token Lens does not read it.`,
      'External data locations must be relative paths to files inside the model file\'s folder.');
    if (!location) throw refuse('an empty location');
    if (location.includes('\0')) throw refuse('a location with a NUL character');
    if (path.isAbsolute(location) || path.win32.isAbsolute(location) || /^[A-Za-z]:/.test(location)) throw refuse('an absolute path');
    const normal = path.normalize(location.replace(/\\/g, '/'));
    if (normal === '..' || normal.startsWith(`..${path.sep}`) || normal.startsWith('../')) throw refuse('outside the model folder');
    const full = path.join(dir, normal);
    let real: string;
    try {
      real = fs.realpathSync(full);
    } catch {
      throw new ModelLoadError(`${onnxFile}: the weights of "${tensor}" are in "${location}", which is missing (${full}).`);
    }
    if (path.relative(realDir, real).startsWith('..') || path.isAbsolute(path.relative(realDir, real))) {
      throw refuse(`a link to ${real}, outside the model folder`);
    }
    if (!fs.statSync(real).isFile()) throw refuse('not a file');
    files.add(normal);
  }
  return [...files];
}

/** Puts `src` at `dest`: a hard link when the file system allows one, else a copy. Returns which. */
export function linkOrCopy(src: string, dest: string, link: (a: string, b: string) => void = fs.linkSync): 'linked' | 'copied' {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  try {
    link(src, dest);
    return 'linked';
  } catch (e) {
    // EXDEV: another drive; EPERM/ENOTSUP/EMLINK: links not allowed or too many. A copy always works.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw e;
    fs.copyFileSync(src, dest);
    return 'copied';
  }
}
