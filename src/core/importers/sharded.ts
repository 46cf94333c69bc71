// A sharded checkpoint: an index file (`model.safetensors.index.json`, `pytorch_model.bin.index.json`) whose
// weight_map says which shard holds which tensor, and the shards beside it, each opened by its format's reader.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CheckpointTensors } from './tensors';

/** Every shard the index names must exist and hold the tensors the index puts in it. */
export function openSharded(indexPath: string, open: (shard: string) => CheckpointTensors): CheckpointTensors {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new Error(`Cannot read ${indexPath}: ${(e as Error).message}`);
  }
  const map = index.weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${indexPath} has no weight_map.`);
  const dir = dirname(indexPath);
  const shards = new Map<string, CheckpointTensors>();
  for (const file of new Set(Object.values(map))) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`The shard ${file} listed in ${basename(indexPath)} is missing from ${dir}.`);
    shards.set(file, open(path));
  }
  for (const [name, file] of Object.entries(map)) {
    if (!shards.get(file)!.info(name)) throw new Error(`${basename(indexPath)} puts ${name} in ${file}, which does not hold it.`);
  }
  return {
    source: indexPath,
    names: () => Object.keys(map),
    info: (name) => (name in map ? shards.get(map[name])!.info(name) : undefined),
    read: (name) => {
      if (!(name in map)) throw new Error(`${indexPath} has no tensor ${name}.`);
      return shards.get(map[name])!.read(name);
    },
  };
}
