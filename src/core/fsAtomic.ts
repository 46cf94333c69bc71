// Files that readers never see half-written: write a temporary file beside the target, then rename.
// A crash or a full disk mid-write leaves the previous file intact. The fsyncs make it survive a power cut
// too: the data reaches the disk before the rename can, the temporary file's directory entry exists
// before it is renamed, and the rename itself is on disk before we return.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file-system calls an atomic write makes; tests pass a recording or failing one. */
export interface AtomicFs {
  open(path: string, flags: string): Promise<{
    writeFile(data: string | Uint8Array): Promise<void>;
    sync(): Promise<void>;
    close(): Promise<void>;
  }>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, opts: { force: boolean }): Promise<void>;
}

const nodeFs: AtomicFs = { open: (p, f) => fsp.open(p, f), rename: fsp.rename, rm: fsp.rm };

/** `data` may come in parts (written in order), so that a large file need not be one buffer. */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[], fs: AtomicFs = nodeFs): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const dir = dirname(path);
  try {
    const file = await fs.open(tmp, 'w');
    try {
      for (const part of Array.isArray(data) ? data : [data]) await file.writeFile(part);
      await file.sync();
    } finally {
      await file.close();
    }
    await syncDir(dir, fs);
    await fs.rename(tmp, path);
    await syncDir(dir, fs);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

async function syncDir(dir: string, fs: AtomicFs): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
  } catch (e) {
    // Windows cannot open a folder as a file; NTFS journals renames itself.
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await handle.sync();
  } catch (e) {
    // Some file systems (and Windows) refuse fsync on a folder: nothing more can be done there.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw e;
  } finally {
    await handle.close();
  }
}
