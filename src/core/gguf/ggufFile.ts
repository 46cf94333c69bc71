// The GGUF container (version 3): a header, typed key/value metadata, tensor descriptions, then the
// tensor data, each tensor aligned to 32 bytes. Written in parts, so a model is never one big buffer.
// Layout: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'f32[]'; value: ArrayLike<number> }
  | { type: 'i32[]'; value: ArrayLike<number> };

/** A float32 tensor. `dims` are GGML's order: dims[0] is the innermost (contiguous) one. */
export interface GgufTensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

const ALIGNMENT = 32;
const TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
const GGML_F32 = 0;
const utf8 = new TextEncoder();

/** Grows a byte list with little-endian scalars and GGUF strings. */
class Bytes {
  private parts: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.push(b); }
  i32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.push(b); }
  f32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  u64(v: number): void { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.push(b); }
  u8(v: number): void { this.push(Uint8Array.of(v)); }
  string(s: string): void { const b = utf8.encode(s); this.u64(b.length); this.push(b); }
  zeros(n: number): void { if (n > 0) this.push(new Uint8Array(n)); }
  concat(): Uint8Array { return Buffer.concat(this.parts); }
}

function writeValue(out: Bytes, v: GgufValue): void {
  switch (v.type) {
    case 'u32': out.u32(TYPE.u32); out.u32(v.value); break;
    case 'i32': out.u32(TYPE.i32); out.i32(v.value); break;
    case 'f32': out.u32(TYPE.f32); out.f32(v.value); break;
    case 'bool': out.u32(TYPE.bool); out.u8(v.value ? 1 : 0); break;
    case 'string': out.u32(TYPE.string); out.string(v.value); break;
    case 'string[]': out.u32(TYPE.array); out.u32(TYPE.string); out.u64(v.value.length); for (const s of v.value) out.string(s); break;
    case 'f32[]': out.u32(TYPE.array); out.u32(TYPE.f32); out.u64(v.value.length); for (let i = 0; i < v.value.length; i++) out.f32(v.value[i]); break;
    case 'i32[]': out.u32(TYPE.array); out.u32(TYPE.i32); out.u64(v.value.length); for (let i = 0; i < v.value.length; i++) out.i32(v.value[i]); break;
  }
}

const padTo = (n: number) => (ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT;

/** The whole file as parts to write in order: metadata first, then each tensor's bytes (not copied). */
export function ggufParts(metadata: [string, GgufValue][], tensors: GgufTensor[]): Uint8Array[] {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [key, value] of metadata) {
    head.string(key);
    writeValue(head, value);
  }
  let offset = 0;
  for (const t of tensors) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: dims ${t.dims.join('x')} do not match ${t.data.length} values`);
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_F32);
    head.u64(offset);
    offset += t.data.byteLength + padTo(t.data.byteLength);
  }
  head.zeros(padTo(head.length));
  const parts = [head.concat()];
  for (const t of tensors) {
    parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    if (padTo(t.data.byteLength)) parts.push(new Uint8Array(padTo(t.data.byteLength)));
  }
  return parts;
}
