// Checkpoints: weights + optimizer state + step + config in one file, written to a temporary name and
// renamed so that a crash mid-write never leaves a broken checkpoint behind.
// Layout: u32 header length, JSON header, zero padding to 4 bytes, then the float32 tensors in header order.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fsAtomic';
import type { DecoderConfig } from '../models/config';
import type { SpecialTokens } from '../models/folder';
import type { TokenizerFiles } from '../tokenizers/types';
import type { OptimConfig } from './optim';
import type { LoraSpec } from './params';

export const CHECKPOINT_FILE = 'trainer-checkpoint.bin';

export interface CheckpointMeta {
  version: 2;
  config: DecoderConfig;
  tokenizer: TokenizerFiles;
  specialTokens?: SpecialTokens;
  lora?: LoraSpec;
  optim: OptimConfig;
  step: number;
  optimStep: number;
  rngState: number;
  batch: number;
  block: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  /** Trained tensors by name. */
  params: Map<string, Float32Array>;
  /** Optimizer moments by parameter name. */
  slots: Map<string, Float32Array[]>;
  /** Weights fed in but not trained (LoRA base). */
  frozen: Map<string, Float32Array>;
}

interface Entry { kind: 'param' | 'slot' | 'frozen'; name: string; length: number; slot?: number }

export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const entries: Entry[] = [];
  const arrays: Float32Array[] = [];
  for (const [name, a] of c.params) { entries.push({ kind: 'param', name, length: a.length }); arrays.push(a); }
  for (const [name, list] of c.slots) {
    list.forEach((a, slot) => { entries.push({ kind: 'slot', name, slot, length: a.length }); arrays.push(a); });
  }
  for (const [name, a] of c.frozen) { entries.push({ kind: 'frozen', name, length: a.length }); arrays.push(a); }
  const header = new TextEncoder().encode(JSON.stringify({ meta: c.meta, entries }));
  const start = align4(4 + header.length);
  const total = start + arrays.reduce((n, a) => n + a.byteLength, 0);
  const buf = new Uint8Array(total);
  new DataView(buf.buffer).setUint32(0, header.length, true);
  buf.set(header, 4);
  let o = start;
  for (const a of arrays) { buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o); o += a.byteLength; }
  await writeFileAtomic(path, buf);
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const buf = await readFile(path);
  const n = buf.readUInt32LE(0);
  const { meta, entries } = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as { meta: CheckpointMeta; entries: Entry[] };
  if ((meta.version as number) === 1) {
    throw new Error(`${path} was written by an older Token Lens whose model config this version cannot read: start a new run.`);
  }
  if (meta.version !== 2) throw new Error(`${path}: unknown checkpoint version ${meta.version}`);
  const c: Checkpoint = { meta, params: new Map(), slots: new Map(), frozen: new Map() };
  let o = align4(4 + n);
  for (const e of entries) {
    const a = new Float32Array(e.length);
    new Uint8Array(a.buffer).set(buf.subarray(o, o + 4 * e.length));
    o += 4 * e.length;
    if (e.kind === 'param') c.params.set(e.name, a);
    else if (e.kind === 'frozen') c.frozen.set(e.name, a);
    else {
      const list = c.slots.get(e.name) ?? [];
      list[e.slot!] = a;
      c.slots.set(e.name, list);
    }
  }
  if (o !== buf.length) throw new Error(`${path}: checkpoint is truncated or corrupt`);
  return c;
}

const align4 = (n: number) => (n + 3) & ~3;
