// An independent forward pass for both decoder families, straight from the formulas with naive loops
// in float64. Tests use it as the oracle for the ONNX graphs.
import type { GPT2Config, LlamaConfig, ModelConfig, Weights } from '../../src/core/models/config';

export interface ReferenceOutput {
  /** logits[t] = scores of the token after position t. */
  logits: Float64Array[];
  /** attention[layer][head] is T x T row-major (query row, key column). */
  attention: Float64Array[][];
}

type Vec = Float64Array;

function w(weights: Weights, name: string): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`missing ${name}`);
  return t.data;
}

/** x @ W (+ b), W stored [in, out]. */
function matvec(x: Vec, W: Float32Array, out: number, b?: Float32Array): Vec {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < x.length; i++) s += x[i] * W[i * out + o];
    y[o] = s;
  }
  return y;
}

function row(M: Float32Array, r: number, n: number): Vec {
  return Float64Array.from(M.subarray(r * n, (r + 1) * n));
}

function layerNorm(x: Vec, g: Float32Array, b: Float32Array, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let vr = 0;
  for (const v of x) vr += (v - mean) ** 2;
  vr /= x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(vr + eps)) * g[i] + b[i]);
}

function rmsNorm(x: Vec, g: Float32Array, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * g[i]);
}

/** Causal attention of every head. kvHeadOf maps a query head to its key/value head. */
function attend(q: Vec[], k: Vec[], v: Vec[], heads: number, hd: number, kvHeadOf: (h: number) => number,
  mask: number[], probsOut: Float64Array[]): Vec[] {
  const T = q.length;
  const out = q.map(() => new Float64Array(heads * hd));
  for (let h = 0; h < heads; h++) {
    const kh = kvHeadOf(h);
    const P = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      const allowed = (j: number) => j <= i && mask[j] === 1;
      const any = Array.from({ length: T }, (_, j) => allowed(j)).some(Boolean);
      const s = new Float64Array(T).fill(-Infinity);
      for (let j = 0; j < T; j++) {
        if (any && !allowed(j)) continue;
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][kh * hd + d];
        // A row that may see nothing is uniform over every key, like a softmax over equal fills.
        s[j] = any ? dot / Math.sqrt(hd) : 0;
      }
      const max = Math.max(...s);
      let z = 0;
      for (let j = 0; j < T; j++) z += (P[i * T + j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - max));
      for (let j = 0; j < T; j++) P[i * T + j] /= z;
      for (let j = 0; j < T; j++) {
        for (let d = 0; d < hd; d++) out[i][h * hd + d] += P[i * T + j] * v[j][kh * hd + d];
      }
    }
    probsOut.push(P);
  }
  return out;
}

function gpt2Forward(c: GPT2Config, W: Weights, tokens: number[], mask: number[]): ReferenceOutput {
  const C = c.n_embd;
  const hd = C / c.n_head;
  let x = tokens.map((t, p) => row(w(W, 'wte'), t, C).map((v, i) => v + w(W, 'wpe')[p * C + i]));
  const attention: Float64Array[][] = [];
  const gelu = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
  for (let l = 0; l < c.n_layer; l++) {
    const p = `h.${l}.`;
    const h = x.map((xt) => layerNorm(xt, w(W, p + 'ln_1.weight'), w(W, p + 'ln_1.bias'), c.layer_norm_eps));
    const qkv = h.map((ht) => matvec(ht, w(W, p + 'attn.c_attn.weight'), 3 * C, w(W, p + 'attn.c_attn.bias')));
    const probs: Float64Array[] = [];
    const a = attend(qkv.map((r) => r.slice(0, C)), qkv.map((r) => r.slice(C, 2 * C)),
      qkv.map((r) => r.slice(2 * C)), c.n_head, hd, (hh) => hh, mask, probs);
    attention.push(probs);
    x = x.map((xt, t) => {
      const o = matvec(a[t], w(W, p + 'attn.c_proj.weight'), C, w(W, p + 'attn.c_proj.bias'));
      const y = xt.map((v, i) => v + o[i]);
      const m = matvec(layerNorm(y, w(W, p + 'ln_2.weight'), w(W, p + 'ln_2.bias'), c.layer_norm_eps),
        w(W, p + 'mlp.c_fc.weight'), 4 * C, w(W, p + 'mlp.c_fc.bias')).map(gelu);
      const f = matvec(m, w(W, p + 'mlp.c_proj.weight'), C, w(W, p + 'mlp.c_proj.bias'));
      return y.map((v, i) => v + f[i]);
    });
  }
  const logits = x.map((xt) => classify(layerNorm(xt, w(W, 'ln_f.weight'), w(W, 'ln_f.bias'), c.layer_norm_eps),
    w(W, 'wte'), c.vocab_size));
  return { logits, attention };
}

/** Scores against an embedding-shaped [V, C] matrix. */
function classify(x: Vec, E: Float32Array, V: number): Vec {
  const C = x.length;
  const y = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let i = 0; i < C; i++) s += x[i] * E[v * C + i];
    y[v] = s;
  }
  return y;
}

/** llama2.c's RoPE: pairs (i, i+1) of each head, i even, angle pos / theta^(i / head_size). */
function rope(vec: Vec, pos: number, hd: number, theta: number): Vec {
  const out = Float64Array.from(vec);
  for (let i = 0; i < vec.length; i += 2) {
    const val = pos / Math.pow(theta, (i % hd) / hd);
    const [c, s] = [Math.cos(val), Math.sin(val)];
    out[i] = vec[i] * c - vec[i + 1] * s;
    out[i + 1] = vec[i] * s + vec[i + 1] * c;
  }
  return out;
}

function llamaForward(c: LlamaConfig, W: Weights, tokens: number[], mask: number[]): ReferenceOutput {
  const D = c.dim;
  const hd = D / c.n_heads;
  const kvDim = c.n_kv_heads * hd;
  const group = c.n_heads / c.n_kv_heads;
  let x = tokens.map((t) => row(w(W, 'tok_embeddings'), t, D));
  const attention: Float64Array[][] = [];
  for (let l = 0; l < c.n_layers; l++) {
    const p = `layers.${l}.`;
    const h = x.map((xt) => rmsNorm(xt, w(W, p + 'attention_norm'), c.norm_eps));
    const q = h.map((ht, t) => rope(matvec(ht, w(W, p + 'attention.wq'), D), t, hd, c.rope_theta));
    const k = h.map((ht, t) => rope(matvec(ht, w(W, p + 'attention.wk'), kvDim), t, hd, c.rope_theta));
    const v = h.map((ht) => matvec(ht, w(W, p + 'attention.wv'), kvDim));
    const probs: Float64Array[] = [];
    const a = attend(q, k, v, c.n_heads, hd, (hh) => Math.floor(hh / group), mask, probs);
    attention.push(probs);
    x = x.map((xt, t) => {
      const o = matvec(a[t], w(W, p + 'attention.wo'), D);
      const y = xt.map((val, i) => val + o[i]);
      const f = rmsNorm(y, w(W, p + 'ffn_norm'), c.norm_eps);
      const g1 = matvec(f, w(W, p + 'feed_forward.w1'), c.hidden_dim);
      const g3 = matvec(f, w(W, p + 'feed_forward.w3'), c.hidden_dim);
      const m = g1.map((u, i) => (u / (1 + Math.exp(-u))) * g3[i]);
      const d = matvec(m, w(W, p + 'feed_forward.w2'), D);
      return y.map((val, i) => val + d[i]);
    });
  }
  const E = w(W, c.shared_classifier ? 'tok_embeddings' : 'output');
  const logits = x.map((xt) => classify(rmsNorm(xt, w(W, 'norm'), c.norm_eps), E, c.vocab_size));
  return { logits, attention };
}

/** mask[j] = 0 hides key j (padding); positions are 0..T-1 either way. */
export function referenceForward(c: ModelConfig, weights: Weights, tokens: number[], mask?: number[]): ReferenceOutput {
  const m = mask ?? tokens.map(() => 1);
  return c.arch === 'gpt2' ? gpt2Forward(c, weights, tokens, m) : llamaForward(c, weights, tokens, m);
}

/** Greedy decoding with the reference: argmax of the last position, stopping after `eos`. */
export function referenceGreedy(c: ModelConfig, weights: Weights, prompt: number[], maxNew: number, eos?: number): number[] {
  const ids = [...prompt];
  for (let n = 0; n < maxNew; n++) {
    const last = referenceForward(c, weights, ids).logits.at(-1)!;
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    ids.push(best);
    if (best === eos) break;
  }
  return ids;
}
