// An independent BERT forward pass (masked language model), straight from the paper's formulas with naive
// loops in float64. It shares no code with src: the weights are read here from the ONNX file's
// initializers with onnx-proto, by the names the file gives them. Tests use it as the oracle for the
// encoder graph, its attention and the pseudo-log-likelihood.
import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';

export interface BertSizes {
  n_layer: number;
  n_head: number;
  n_embd: number;
  d_ff: number;
  vocab_size: number;
  norm_eps: number;
  /** Rows of the position table skipped before position 0 (RoBERTa's 2). */
  position_offset: number;
  type_vocab_size: number;
}

export type BertWeights = Map<string, Float32Array>;

/** Every float initializer of an ONNX file, by name. */
export function readOnnxFloats(file: string): BertWeights {
  const model = onnx.ModelProto.decode(readFileSync(file));
  const out: BertWeights = new Map();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT || !t.rawData) continue;
    const bytes = Uint8Array.from(t.rawData);
    out.set(t.name!, new Float32Array(bytes.buffer, 0, bytes.length / 4));
  }
  return out;
}

type Vec = Float64Array;

function get(w: BertWeights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`the model file has no weight ${name}`);
  return t;
}

/** x @ W + b with W stored [in, out]. */
function affine(x: Vec, W: Float32Array, b: Float32Array, out: number): Vec {
  const y = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    for (let o = 0; o < out; o++) y[o] += xi * W[i * out + o];
  }
  return y;
}

function layerNorm(x: Vec, g: Float32Array, b: Float32Array, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v / x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2 / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i] + b[i]);
}

/** erf by its Taylor series (|x| < 3) or the continued fraction of erfc: float64-exact enough here. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

export interface BertOutput {
  /** logits[t]: scores over the vocabulary for the token at position t. */
  logits: Vec[];
  /** attention[layer][head]: T x T row-major (query row, key column). */
  attention: Vec[][];
}

export function bertForward(s: BertSizes, w: BertWeights, ids: number[]): BertOutput {
  const C = s.n_embd, H = s.n_head, hd = C / H, T = ids.length;
  const tok = get(w, 'tok_emb'), pos = get(w, 'pos_emb');
  const type = s.type_vocab_size ? get(w, 'type_emb') : null;
  let x: Vec[] = ids.map((id, t) => {
    const e = new Float64Array(C);
    for (let c = 0; c < C; c++) e[c] = tok[id * C + c] + pos[(t + s.position_offset) * C + c] + (type ? type[c] : 0);
    return layerNorm(e, get(w, 'ln_emb.weight'), get(w, 'ln_emb.bias'), s.norm_eps);
  });
  const attention: Vec[][] = [];
  for (let l = 0; l < s.n_layer; l++) {
    const p = `layers.${l}.`;
    const proj = (n: string) => x.map((r) => affine(r, get(w, `${p}attn.${n}.weight`), get(w, `${p}attn.${n}.bias`), C));
    const q = proj('q'), k = proj('k'), v = proj('v');
    const ctx = x.map(() => new Float64Array(C));
    const maps: Vec[] = [];
    for (let h = 0; h < H; h++) {
      const m = new Float64Array(T * T);
      for (let i = 0; i < T; i++) {
        // Every key, before and after the query: nothing is masked.
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][h * hd + d];
          m[i * T + j] = dot / Math.sqrt(hd);
          max = Math.max(max, m[i * T + j]);
        }
        let z = 0;
        for (let j = 0; j < T; j++) z += (m[i * T + j] = Math.exp(m[i * T + j] - max));
        for (let j = 0; j < T; j++) {
          m[i * T + j] /= z;
          for (let d = 0; d < hd; d++) ctx[i][h * hd + d] += m[i * T + j] * v[j][h * hd + d];
        }
      }
      maps.push(m);
    }
    attention.push(maps);
    x = x.map((r, t) => {
      const a = affine(ctx[t], get(w, `${p}attn.o.weight`), get(w, `${p}attn.o.bias`), C);
      const y = layerNorm(r.map((val, c) => val + a[c]), get(w, `${p}ln_1.weight`), get(w, `${p}ln_1.bias`), s.norm_eps);
      const hidden = affine(y, get(w, `${p}mlp.up.weight`), get(w, `${p}mlp.up.bias`), s.d_ff).map(gelu);
      const m = affine(hidden, get(w, `${p}mlp.down.weight`), get(w, `${p}mlp.down.bias`), C);
      return layerNorm(y.map((val, c) => val + m[c]), get(w, `${p}ln_2.weight`), get(w, `${p}ln_2.bias`), s.norm_eps);
    });
  }
  const bias = get(w, 'mlm.bias');
  const logits = x.map((r) => {
    const h = layerNorm(affine(r, get(w, 'mlm.dense.weight'), get(w, 'mlm.dense.bias'), C).map(gelu), get(w, 'mlm.ln.weight'), get(w, 'mlm.ln.bias'), s.norm_eps);
    const out = new Float64Array(s.vocab_size);
    for (let o = 0; o < s.vocab_size; o++) {
      let dot = bias[o];
      for (let c = 0; c < C; c++) dot += h[c] * tok[o * C + c];
      out[o] = dot;
    }
    return out;
  });
  return { logits, attention };
}

export function logSoftmax(row: Vec): Vec {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let z = 0;
  for (const v of row) z += Math.exp(v - max);
  return row.map((v) => v - max - Math.log(z));
}

/** Pseudo-log-likelihood losses: for each position in `scored`, -log p(ids[t] | ids with t masked). */
export function pseudoLosses(s: BertSizes, w: BertWeights, ids: number[], maskId: number, scored: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of scored) {
    const masked = ids.map((id, i) => (i === t ? maskId : id));
    out.set(t, -logSoftmax(bertForward(s, w, masked).logits[t])[ids[t]]);
  }
  return out;
}
