// A minimal zip reader for PyTorch checkpoints (torch.save writes a zip of stored entries: data.pkl and
// one file per tensor storage). Only the central directory is read up front; each entry is read when
// asked for, so a checkpoint that also holds an optimizer's state costs nothing for it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

interface ZipEntry {
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

export interface ZipFile {
  readonly path: string;
  names(): string[];
  /** The one entry whose name ends with `suffix` (e.g. '/data.pkl'), whatever folder torch put it in. */
  find(suffix: string): string | undefined;
  read(name: string): Buffer;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function readAt(fd: number, position: number, length: number, path: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`${path} is truncated: it ends at byte ${position + done}.`);
    done += n;
  }
  return buf;
}

export function openZip(path: string): ZipFile {
  const fd = openSync(path, 'r');
  let entries: Map<string, ZipEntry>;
  try {
    entries = centralDirectory(fd, path);
  } finally {
    closeSync(fd);
  }
  return {
    path,
    names: () => [...entries.keys()],
    find(suffix) {
      const hits = [...entries.keys()].filter((n) => n === suffix.replace(/^\//, '') || n.endsWith(suffix));
      if (hits.length > 1) throw new Error(`${path} holds more than one ${suffix}: ${hits.join(', ')}.`);
      return hits[0];
    },
    read(name) {
      const e = entries.get(name);
      if (!e) throw new Error(`${path} has no entry ${name}.`);
      const f = openSync(path, 'r');
      try {
        const local = readAt(f, e.localHeader, 30, path);
        if (local.readUInt32LE(0) !== LOCAL) throw new Error(`${path} is corrupt: entry ${name} has no local header.`);
        const start = e.localHeader + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
        const data = readAt(f, start, e.compressedSize, path);
        if (e.method === 0) return data;
        if (e.method === 8) return inflateRawSync(data);
        throw new Error(`${path}: entry ${name} uses zip compression method ${e.method}; torch checkpoints are stored or deflated.`);
      } finally {
        closeSync(f);
      }
    },
  };
}

function centralDirectory(fd: number, path: string): Map<string, ZipEntry> {
  const size = fstatSync(fd).size;
  const notZip = () => new Error(`${path} is not a PyTorch checkpoint (a zip file): no zip directory at its end` +
    `${size < 22 ? '' : ' (truncated, or saved with the legacy torch format: re-save it with torch.save in torch >= 1.6)'}.`);
  if (size < 22) throw notZip();
  // The end record is in the last 22 bytes plus at most a 64 KiB comment.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = readAt(fd, size - tailLen, tailLen, path);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { at = i; break; }
  if (at < 0) throw notZip();
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  if (at >= 20 && tail.readUInt32LE(at - 20) === EOCD64_LOCATOR) {
    const rec = readAt(fd, Number(tail.readBigUInt64LE(at - 20 + 8)), 56, path);
    if (rec.readUInt32LE(0) !== EOCD64) throw new Error(`${path} is corrupt: bad zip64 end record.`);
    count = Number(rec.readBigUInt64LE(32));
    cdSize = Number(rec.readBigUInt64LE(40));
    cdOffset = Number(rec.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw new Error(`${path} is truncated: its zip directory lies beyond its end.`);
  const cd = readAt(fd, cdOffset, cdSize, path);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new Error(`${path} is corrupt: bad zip directory entry ${n}.`);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    const e: ZipEntry = {
      method: cd.readUInt16LE(p + 10),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localHeader: cd.readUInt32LE(p + 42),
    };
    zip64Sizes(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), e);
    if (e.localHeader + 30 + e.compressedSize > size) throw new Error(`${path} is truncated: entry ${name} lies beyond its end.`);
    entries.set(name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Sizes and offsets over 4 GiB live in the zip64 extra field, in this order, only where the 32-bit field is full. */
function zip64Sizes(extra: Buffer, e: ZipEntry): void {
  for (let q = 0; q + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let r = q + 4;
      const next = () => Number(extra.readBigUInt64LE((r += 8) - 8));
      if (e.size === 0xffffffff) e.size = next();
      if (e.compressedSize === 0xffffffff) e.compressedSize = next();
      if (e.localHeader === 0xffffffff) e.localHeader = next();
    }
    q += 4 + len;
  }
}
