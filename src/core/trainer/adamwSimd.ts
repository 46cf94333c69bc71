// The optimizer's loops in WebAssembly SIMD: AdamW's update four float32 weights per instruction (as PyTorch
// computes it, in float32), and the gradients' sum of squares two at a time in float64. In JavaScript each
// weight cost a double-precision square root and division in turn (~4 ns: 4-5 ms of a 50 ms `nanogpt-cpu`
// step). The module is a few hundred bytes, written out below instruction by instruction.
//
// A training step's gradients (written there by onnxruntime) and AdamW's moments live in the module's memory
// (`array`), so the loops read them in place; other arrays are copied through a scratch region a tensor at a
// time, so the copies stay in cache. The memory is sized once: growing it would detach every array in it.

/** The update constants of one step (see optim.ts: bias corrections folded into `stepSize` and `eps`). */
export interface AdamWStep { b1: number; b2: number; a1: number; a2: number; decay: number; stepSize: number; eps: number }

// Opcodes (WebAssembly core and SIMD specifications).
const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_SHL = 0x74, I32_GE_U = 0x4f, F64_ADD = 0xa0;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, EMPTY = 0x40;
const simd = (op: number) => [0xfd, ...uleb(op)];
const V128_LOAD = [...simd(0x00), 4, 0], V128_STORE = [...simd(0x0b), 4, 0];
const LOAD64_ZERO = (offset: number) => [...simd(0x5d), 3, offset];
const F32X4_SPLAT = simd(0x13), F32X4_SQRT = simd(0xe3), F32X4_ADD = simd(0xe4), F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6), F32X4_DIV = simd(0xe7);
const F64X2_PROMOTE_LOW = simd(0x5f), F64X2_ADD = simd(0xf0), F64X2_MUL = simd(0xf2);
const F64X2_LANE = (lane: number) => [...simd(0x21), lane];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const get = (l: number) => [LOCAL_GET, l], set = (l: number) => [LOCAL_SET, l];

/** `for (i = 0; i < end; i += 16) body` over byte offsets. */
const loop16 = (i: number, end: number, body: number[]) => [
  BLOCK, EMPTY, LOOP, EMPTY,
  ...get(i), ...get(end), I32_GE_U, BR_IF, 1,
  ...body,
  ...get(i), I32_CONST, 16, I32_ADD, ...set(i),
  BR, 0, END, END,
];

/**
 * adamw(p, g, m, v, n, b1, b2, a1, a2, decay, stepSize, eps): byte offsets of four float32 arrays of n weights
 * (n a multiple of 4), updated in place:
 *   m = b1 m + a1 g;  v = b2 v + a2 g g;  p = p decay - stepSize m / (sqrt(v) + eps)
 */
function adamwBody(): number[] {
  // Parameters 0-4: p g m v n (i32); 5-11: b1 b2 a1 a2 decay stepSize eps (f32).
  const [P, G, M, V, N] = [0, 1, 2, 3, 4];
  // Locals: 12 i, 13 end (i32); 14-20 the constants splatted; 21 gi, 22 mi, 23 vi (v128).
  const [I, END_, VB1, VB2, VA1, VA2, VDEC, VSTEP, VEPS, GI, MI, VI] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const at = (base: number) => [...get(base), ...get(I), I32_ADD];
  const body = [
    ...get(N), I32_CONST, 2, I32_SHL, ...set(END_),
    ...[VB1, VB2, VA1, VA2, VDEC, VSTEP, VEPS].flatMap((l, k) => [...get(5 + k), ...F32X4_SPLAT, ...set(l)]),
    ...loop16(I, END_, [
      ...at(G), ...V128_LOAD, ...set(GI),
      // m = b1 m + a1 g
      ...get(VB1), ...at(M), ...V128_LOAD, ...F32X4_MUL, ...get(VA1), ...get(GI), ...F32X4_MUL, ...F32X4_ADD, ...set(MI),
      ...at(M), ...get(MI), ...V128_STORE,
      // v = b2 v + a2 g g
      ...get(VB2), ...at(V), ...V128_LOAD, ...F32X4_MUL, ...get(VA2), ...get(GI), ...F32X4_MUL, ...get(GI), ...F32X4_MUL,
      ...F32X4_ADD, ...set(VI),
      ...at(V), ...get(VI), ...V128_STORE,
      // p = p decay - stepSize m / (sqrt(v) + eps)
      ...at(P),
      ...at(P), ...V128_LOAD, ...get(VDEC), ...F32X4_MUL,
      ...get(VSTEP), ...get(MI), ...F32X4_MUL, ...get(VI), ...F32X4_SQRT, ...get(VEPS), ...F32X4_ADD, ...F32X4_DIV,
      ...F32X4_SUB, ...V128_STORE,
    ]),
    END,
  ];
  return [...vec([[2, I32], [10, V128]]), ...body];
}

/** sumsq(g, n) -> f64: the sum of squares of n float32 values (n a multiple of 4), accumulated in float64. */
function sumsqBody(): number[] {
  // Parameters 0 g, 1 n; locals 2 i, 3 end (i32); 4 acc, 5 acc2, 6 x (v128).
  const [G, N, I, END_, ACC, ACC2, X] = [0, 1, 2, 3, 4, 5, 6];
  const at = [...get(G), ...get(I), I32_ADD];
  // Two float32 lanes widened to float64, squared and added into an accumulator.
  const half = (offset: number, acc: number) => [
    ...at, ...LOAD64_ZERO(offset), ...F64X2_PROMOTE_LOW, ...set(X),
    ...get(acc), ...get(X), ...get(X), ...F64X2_MUL, ...F64X2_ADD, ...set(acc),
  ];
  const body = [
    ...get(N), I32_CONST, 2, I32_SHL, ...set(END_),
    ...loop16(I, END_, [...half(0, ACC), ...half(8, ACC2)]),
    ...get(ACC), ...get(ACC2), ...F64X2_ADD, ...set(ACC),
    ...get(ACC), ...F64X2_LANE(0), ...get(ACC), ...F64X2_LANE(1), F64_ADD,
    END,
  ];
  return [...vec([[2, I32], [3, V128]]), ...body];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const fn = (body: number[]) => [...uleb(body.length), ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], ...Array(7).fill([F32])]), 0],
      [0x60, ...vec([[I32], [I32]]), ...vec([[F64]])],
    ])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...name('adamw'), 0x00, 0], [...name('sumsq'), 0x00, 1], [...name('memory'), 0x02, 0]])),
    ...section(10, vec([fn(adamwBody()), fn(sumsqBody())])),
  ];
  return new Uint8Array(bytes);
}

type AdamWKernel = (p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, a1: number, a2: number,
  decay: number, stepSize: number, eps: number) => void;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is missing (the JavaScript loops are used then). */
function module(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = typeof WebAssembly !== 'undefined' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

const PAGE = 65536;
const padded = (n: number) => Math.ceil(n / 4) * 4;

export class AdamWSimd {
  private readonly memory: WebAssembly.Memory;
  private readonly adamw: AdamWKernel;
  private readonly sumsq: (g: number, n: number) => number;
  private heap: Float32Array;
  /** The memory holds `arena` floats for `array`, then a scratch region of four times `scratch` floats. */
  private readonly arena: number;
  private scratch: number;
  private used = 0;

  private constructor(instance: WebAssembly.Instance, arena: number, scratch: number) {
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.adamw = instance.exports.adamw as AdamWKernel;
    this.sumsq = instance.exports.sumsq as (g: number, n: number) => number;
    this.arena = arena;
    this.scratch = scratch;
    this.heap = this.grow(arena + 4 * scratch);
  }

  /**
   * Null where WebAssembly SIMD is unavailable. `arena`: floats for the arrays `array` hands out; `scratch`:
   * the largest tensor copied through. With an arena the memory never grows (the arrays stay attached).
   */
  static create(arena = 0, scratch = 0): AdamWSimd | null {
    const m = module();
    if (!m) return null;
    try {
      return new AdamWSimd(new WebAssembly.Instance(m), padded(arena), padded(scratch));
    } catch (e) {
      // More than a WebAssembly memory holds (4 GB): the caller keeps its arrays in JavaScript.
      if (e instanceof RangeError) return null;
      throw e;
    }
  }

  /** Floats an arena needs for arrays of these lengths (each padded to a multiple of four). */
  static arenaFloats(lengths: Iterable<number>): number {
    let n = 0;
    for (const l of lengths) n += padded(l);
    return n;
  }

  /** A zeroed float32 array of length n in the module's memory. */
  array(n: number): Float32Array {
    const start = this.used;
    if (start + padded(n) > this.arena) throw new Error(`optimizer arena full (${this.arena} floats)`);
    this.used += padded(n);
    return new Float32Array(this.memory.buffer, start * 4, n);
  }

  private owns(a: Float32Array | Float64Array): boolean {
    return a instanceof Float32Array && a.buffer === this.memory.buffer && a.byteOffset % 16 === 0;
  }

  /** The sum of squares of g (float64 accumulation), or null when g is not one of this module's arrays. */
  sumOfSquares(g: Float32Array | Float64Array): number | null {
    return g instanceof Float32Array && this.owns(g) ? this.sumsq(g.byteOffset, padded(g.length)) : null;
  }

  /**
   * Updates p, m and v in place from g; false (nothing done) when a tensor is larger than the scratch region
   * of a module whose memory cannot grow.
   */
  update(s: AdamWStep, p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array): boolean {
    const n = p.length, n4 = padded(n);
    const arrays = [p, g, m, v];
    if (arrays.some((a) => !this.owns(a)) && n4 > this.scratch && !this.reserve(n4)) return false;
    // Each array's float offset in the memory: its own, or its copy's in the scratch region.
    const at = arrays.map((a, k) => {
      if (this.owns(a)) return a.byteOffset / 4;
      const start = this.arena + k * this.scratch;
      this.heap.set(a, start);
      // The padding past n is zero, which the update leaves zero.
      this.heap.fill(0, start + n, start + n4);
      return start;
    });
    this.adamw(at[0] * 4, at[1] * 4, at[2] * 4, at[3] * 4, n4, s.b1, s.b2, s.a1, s.a2, s.decay, s.stepSize, s.eps);
    for (const k of [0, 2, 3]) if (!this.owns(arrays[k])) arrays[k].set(this.heap.subarray(at[k], at[k] + n));
    return true;
  }

  /** Makes the scratch region hold n floats per array, where the memory may grow. */
  private reserve(n: number): boolean {
    // Arrays handed out would be detached by growing.
    if (this.used > 0) return false;
    this.heap = this.grow(this.arena + 4 * n);
    this.scratch = n;
    return true;
  }

  private grow(floats: number): Float32Array {
    const pages = Math.ceil((floats * 4) / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    return new Float32Array(this.memory.buffer);
  }
}
