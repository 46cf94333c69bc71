// What Token Lens keeps on disk, and how to get the space back: prepared model copies (graph surgery, one per
// model file), downloaded Hub models, and trained runs (an exported model plus a checkpoint holding Adam's two
// moments: three times the weights). Prepared copies are a cache: the oldest are evicted on their own.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type StoredKind = 'prepared' | 'downloaded' | 'trained' | 'checkpoint';

export interface StoredItem {
  kind: StoredKind;
  path: string;
  /** A short name: the model id, the run's folder name. */
  name: string;
  /** Bytes freed by deleting it (files hard-linked elsewhere are not counted: their space stays in use). */
  bytes: number;
  /** Milliseconds since the epoch of the last use (prepared copies) or the last write. */
  lastUsed: number;
  /** A prepared copy still being written (or abandoned by a crash). */
  incomplete?: boolean;
}

export interface StorageRoots {
  /** The model cache: Hub downloads and `prepared/`. */
  cacheDir: string;
  /** Where trained runs go, one folder each. */
  trainedDir?: string;
}

export const PREPARED_DIR = 'prepared';
/** Marks a finished prepared copy; its modification time is the copy's last use. */
export const PREPARED_RECORD = 'surgery.json';
const CHECKPOINT_FILE = 'trainer-checkpoint.bin';
/** Prepared copies kept: the most recently used few, none unused for longer than a month. */
export const PREPARED_LIMITS = { keep: 4, maxAgeDays: 30 };

/** Every item in the roots, largest first. */
export function listStorage(roots: StorageRoots): StoredItem[] {
  const items = [...listPrepared(roots.cacheDir), ...listDownloaded(roots.cacheDir), ...(roots.trainedDir ? listTrained(roots.trainedDir) : [])];
  return items.sort((a, b) => b.bytes - a.bytes);
}

export function listPrepared(cacheDir: string): StoredItem[] {
  const dir = path.join(cacheDir, PREPARED_DIR);
  return subfolders(dir).map((p) => {
    const record = path.join(p, PREPARED_RECORD);
    // A copy without its record is being written now, or was cut short by a crash.
    const done = fs.existsSync(record);
    const lastUsed = fs.statSync(done ? record : p).mtimeMs;
    return { kind: 'prepared' as const, path: p, name: preparedName(p), bytes: sizeOf(p).freed, lastUsed, ...(done ? {} : { incomplete: true }) };
  });
}

/** Hub models downloaded into the cache: `owner/name` folders with a config.json. */
function listDownloaded(cacheDir: string): StoredItem[] {
  const items: StoredItem[] = [];
  for (const owner of subfolders(cacheDir)) {
    if (path.basename(owner) === PREPARED_DIR) continue;
    for (const model of [owner, ...subfolders(owner)]) {
      if (!fs.existsSync(path.join(model, 'config.json'))) continue;
      const s = sizeOf(model);
      items.push({ kind: 'downloaded', path: model, name: path.relative(cacheDir, model), bytes: s.freed, lastUsed: s.newest });
    }
  }
  return items;
}

/** Each run, and its checkpoint on its own: deleting only that keeps the trained model. */
function listTrained(trainedDir: string): StoredItem[] {
  const items: StoredItem[] = [];
  for (const run of subfolders(trainedDir)) {
    const s = sizeOf(run);
    const name = path.basename(run);
    items.push({ kind: 'trained', path: run, name, bytes: s.freed, lastUsed: s.newest });
    const ckpt = path.join(run, CHECKPOINT_FILE);
    if (fs.existsSync(ckpt)) {
      const st = fs.statSync(ckpt);
      items.push({ kind: 'checkpoint', path: ckpt, name, bytes: st.size, lastUsed: st.mtimeMs });
    }
  }
  return items;
}

/** Records that a prepared copy was used now, so that eviction keeps it. */
export function touchPrepared(prepared: string): void {
  const now = new Date();
  try {
    fs.utimesSync(path.join(prepared, PREPARED_RECORD), now, now);
  } catch { /* read-only cache: eviction then goes by creation time */ }
}

/**
 * Deletes prepared copies beyond the `keep` most recently used, and those unused for `maxAgeDays`; never
 * the ones in `except` (in use now). Returns what was deleted.
 */
export function evictPrepared(cacheDir: string, opts: { keep: number; maxAgeDays?: number; except?: string[] }): StoredItem[] {
  const except = new Set((opts.except ?? []).map((p) => path.resolve(p)));
  const oldest = Date.now() - (opts.maxAgeDays ?? Infinity) * 86_400_000;
  // Another process may be writing a copy right now: leave unfinished ones alone for an hour.
  const byUse = listPrepared(cacheDir).filter((p) => !p.incomplete || p.lastUsed < Date.now() - 3_600_000)
    .sort((a, b) => b.lastUsed - a.lastUsed);
  const doomed = byUse.filter((item, i) => !except.has(path.resolve(item.path)) && (i >= opts.keep || item.lastUsed < oldest));
  return removeStored(doomed, { cacheDir }).removed;
}

/** Deletes items that lie inside the roots; one that cannot be deleted (in use on Windows) is reported, not thrown. */
export function removeStored(items: StoredItem[], roots: StorageRoots): { removed: StoredItem[]; failed: { item: StoredItem; error: string }[] } {
  const removed: StoredItem[] = [];
  const failed: { item: StoredItem; error: string }[] = [];
  const inside = (p: string) => [roots.cacheDir, roots.trainedDir].some((r) => {
    if (!r) return false;
    const rel = path.relative(path.resolve(r), path.resolve(p));
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
  for (const item of items) {
    if (!inside(item.path)) {
      failed.push({ item, error: `${item.path} is not inside Token Lens's storage` });
      continue;
    }
    try {
      fs.rmSync(item.path, { recursive: true, force: true });
      removed.push(item);
    } catch (e) {
      failed.push({ item, error: (e as Error).message });
    }
  }
  return { removed, failed };
}

/** Bytes as people read them: 1.2 GB, 340 MB, 12 KB. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} B`;
}

function subfolders(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

/** Size a folder frees when deleted (symlinks and files with other hard links do not count), and its newest write. */
function sizeOf(dir: string): { freed: number; newest: number } {
  let freed = 0, newest = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.statSync(p);
        if (st.nlink <= 1) freed += st.size;
        newest = Math.max(newest, st.mtimeMs);
      }
    }
  };
  try { walk(dir); } catch { /* vanished while walking */ }
  return { freed, newest };
}

/** The model folder a prepared copy came from, as its record says, else its key. */
function preparedName(dir: string): string {
  try {
    const source = JSON.parse(fs.readFileSync(path.join(dir, PREPARED_RECORD), 'utf8')).source;
    if (typeof source === 'string') return source;
  } catch { /* an old record without the source */ }
  return path.basename(dir);
}
