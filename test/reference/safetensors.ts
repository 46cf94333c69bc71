// Safetensors read and written straight from the format's description, for tests and benchmarks: an
// 8-byte little-endian header length, the JSON header, the data. Shares no code with src/.
import { readFileSync, writeFileSync } from 'node:fs';

export interface RefTensor {
  shape: number[];
  /** Values as float64 (U8 buffers included). */
  data: Float64Array;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  return e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
}

export function readSafetensorsRef(path: string, into: Map<string, RefTensor> = new Map()): Map<string, RefTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  for (const [name, e] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (name === '__metadata__') continue;
    const at = 8 + n + e.data_offsets[0];
    const count = e.shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (e.dtype === 'F32') data[i] = buf.readFloatLE(at + 4 * i);
      else if (e.dtype === 'F16') data[i] = half(buf.readUInt16LE(at + 2 * i));
      else if (e.dtype === 'BF16') data[i] = new Float32Array(new Uint32Array([buf.readUInt16LE(at + 2 * i) << 16]).buffer)[0];
      else if (e.dtype === 'U8') data[i] = buf[at + i];
      else throw new Error(`reference reader: dtype ${e.dtype}`);
    }
    into.set(name, { shape: e.shape, data });
  }
  return into;
}

/** Writes F32 tensors (or raw typed bytes with an explicit dtype). Data is written tensor by tensor. */
export function writeSafetensorsRef(path: string, tensors: [string, { shape: number[]; data: Float32Array; dtype?: string }][]): void {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8 + json.length);
  head.writeBigUInt64LE(BigInt(json.length), 0);
  head.write(json, 8, 'utf8');
  const parts: Uint8Array[] = [head];
  for (const [, t] of tensors) parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileSync(path, Buffer.concat(parts));
}
