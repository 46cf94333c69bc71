// AdamW's update as a WebAssembly SIMD loop: four weights per instruction, in float32 as PyTorch computes it.
// In JavaScript each weight costs a double-precision square root and division in turn (~4 ns: 4-5 ms of a
// 50 ms `nanogpt-cpu` step); here four go at once. The module is a few dozen bytes, written out below
// instruction by instruction rather than shipped as a binary.
//
// Each tensor's weights, gradients and moments are copied into the module's memory, updated, and copied back:
// a tensor at a time, so the copies stay in cache and the caller's arrays stay ordinary Float32Arrays.

/** The update constants of one step (see optim.ts: bias corrections folded into `stepSize` and `eps`). */
export interface AdamWStep { b1: number; b2: number; a1: number; a2: number; decay: number; stepSize: number; eps: number }

// Opcodes (WebAssembly core and SIMD specifications).
const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_SHL = 0x74, I32_GE_U = 0x4f;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, EMPTY = 0x40;
const simd = (op: number) => [0xfd, ...uleb(op)];
const V128_LOAD = [...simd(0x00), 4, 0], V128_STORE = [...simd(0x0b), 4, 0];
const F32X4_SPLAT = simd(0x13), F32X4_SQRT = simd(0xe3), F32X4_ADD = simd(0xe4), F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6), F32X4_DIV = simd(0xe7);

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

/**
 * adamw(p, g, m, v, n, b1, b2, a1, a2, decay, stepSize, eps): byte offsets of four float32 arrays of n weights
 * (n a multiple of 4), updated in place:
 *   m = b1 m + a1 g;  v = b2 v + a2 g g;  p = p decay - stepSize m / (sqrt(v) + eps)
 */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  // Parameters 0-4: p g m v n (i32); 5-11: b1 b2 a1 a2 decay stepSize eps (f32).
  const [P, G, M, V, N] = [0, 1, 2, 3, 4];
  // Locals: 12 i, 13 end (i32); 14-20 the constants splatted; 21 gi, 22 mi, 23 vi (v128).
  const [I, END_, VB1, VB2, VA1, VA2, VDEC, VSTEP, VEPS, GI, MI, VI] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const get = (l: number) => [LOCAL_GET, l], set = (l: number) => [LOCAL_SET, l];
  const at = (base: number) => [...get(base), ...get(I), I32_ADD];
  const body = [
    ...get(N), I32_CONST, 2, I32_SHL, ...set(END_),
    ...[VB1, VB2, VA1, VA2, VDEC, VSTEP, VEPS].flatMap((l, k) => [...get(5 + k), ...F32X4_SPLAT, ...set(l)]),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(I), ...get(END_), I32_GE_U, BR_IF, 1,
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
    ...get(I), I32_CONST, 16, I32_ADD, ...set(I),
    BR, 0, END, END, END,
  ];
  const locals = vec([[2, I32], [10, V128]]);
  const code = [...locals, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], ...Array(7).fill([F32])]), 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...name('adamw'), 0x00, 0], [...name('memory'), 0x02, 0]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
  return new Uint8Array(bytes);
}

type Kernel = (p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, a1: number, a2: number,
  decay: number, stepSize: number, eps: number) => void;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is missing (the JavaScript loop is used then). */
function module(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = typeof WebAssembly !== 'undefined' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

const PAGE = 65536;

/** One instance with room for the largest tensor it has seen (memory grows when a larger one comes). */
export class AdamWSimd {
  private readonly memory: WebAssembly.Memory;
  private readonly kernel: Kernel;
  private capacity = 0;

  private constructor(instance: WebAssembly.Instance) {
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.kernel = instance.exports.adamw as Kernel;
  }

  /** Null where WebAssembly SIMD is unavailable. */
  static create(): AdamWSimd | null {
    const m = module();
    return m ? new AdamWSimd(new WebAssembly.Instance(m)) : null;
  }

  /** Updates p, m and v in place from g. */
  update(s: AdamWStep, p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array): void {
    const n = p.length;
    const padded = (n + 3) & ~3;
    this.reserve(padded);
    const cap = this.capacity;
    const heap = new Float32Array(this.memory.buffer, 0, 4 * cap);
    // Four regions of `cap` floats: p, g, m, v. The padding past n is zero, which the update leaves zero.
    const [op, og, om, ov] = [0, cap, 2 * cap, 3 * cap];
    heap.set(p, op); heap.set(g, og); heap.set(m, om); heap.set(v, ov);
    for (let k = n; k < padded; k++) heap[op + k] = heap[og + k] = heap[om + k] = heap[ov + k] = 0;
    this.kernel(op * 4, og * 4, om * 4, ov * 4, padded, s.b1, s.b2, s.a1, s.a2, s.decay, s.stepSize, s.eps);
    p.set(heap.subarray(op, op + n));
    m.set(heap.subarray(om, om + n));
    v.set(heap.subarray(ov, ov + n));
  }

  private reserve(floats: number): void {
    if (floats <= this.capacity) return;
    const bytes = 16 * floats;
    const pages = Math.ceil(bytes / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    this.capacity = floats;
  }
}
