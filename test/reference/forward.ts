// An independent forward pass of the decoder, straight from the papers' formulas with naive loops in
// float64, one token at a time. It shares no code with src (only the config's type and the weight
// names of config.ts): tests use it as the oracle for the ONNX graphs and the trainer.
import type { DecoderConfig, Weights } from '../../src/core/models/config';

export interface ReferenceOutput {
  /** logits[t] = scores of the token after position t, over the model's whole output width. */
  logits: Float64Array[];
  /** attention[layer][head] is T x T row-major (query row, key column), one matrix per query head. */
  attention: Float64Array[][];
  /** hidden[layer][t]: the residual stream after block `layer`. */
  hidden: Float64Array[][];
  /** The logit lens, when asked: lens[layer][t] = logits of hidden[layer][t] through ln_f and the head. */
  lens?: Float64Array[][];
}

export interface ReferenceOptions {
  /** Token-embedding rows to use instead of tok_emb's rows of the tokens (positions are still added). */
  embeddings?: ArrayLike<number>[];
  /** Also decode every layer's residual stream (the logit lens). */
  lens?: boolean;
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

function layerNorm(x: Vec, g: Float32Array, b: Float32Array | undefined, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let vr = 0;
  for (const v of x) vr += (v - mean) ** 2;
  vr /= x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(vr + eps)) * g[i] + (b ? b[i] : 0));
}

function rmsNorm(x: Vec, g: Float32Array, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * g[i]);
}

/** erf from its everywhere-convergent series of positive terms: 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!!. */
export function erf(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x, sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

const geluTanh = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
const geluExact = (u: number) => 0.5 * u * (1 + erf(u / Math.SQRT2));
const silu = (u: number) => u / (1 + Math.exp(-u));

/**
 * The rotation frequency of pair i of rotary_dim: Llama 3's scaling (Meta's apply_scaling), linear
 * scaling (positions / factor), dynamic NTK (unchanged within the context).
 */
function frequency(c: DecoderConfig, i: number): number {
  const f = 1 / Math.pow(c.rope_theta, (2 * i) / c.rotary_dim);
  const s = c.rope_scaling;
  if (!s || s.rope_type === 'dynamic') return f;
  if (s.rope_type === 'linear') return f / s.factor;
  const wavelen = (2 * Math.PI) / f;
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  if (wavelen < highWavelen) return f;
  if (wavelen > lowWavelen) return f / s.factor;
  const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1 - smooth) * (f / s.factor) + smooth * f;
}

/** RoPE on each of n heads of vec: pair i is (2i, 2i+1) interleaved, (i, i + rot/2) rotate-half. */
function rope(c: DecoderConfig, vec: Vec, n: number, pos: number): Vec {
  const out = Float64Array.from(vec);
  const half = c.rotary_dim / 2;
  for (let h = 0; h < n; h++) {
    const base = h * c.head_dim;
    for (let i = 0; i < half; i++) {
      const [a, b] = c.rope_layout === 'interleaved' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
      // The angle in float32, as Hugging Face and llama2.c compute it.
      const angle = Math.fround(pos * Math.fround(frequency(c, i)));
      const [cs, sn] = [Math.cos(angle), Math.sin(angle)];
      out[a] = vec[a] * cs - vec[b] * sn;
      out[b] = vec[a] * sn + vec[b] * cs;
    }
  }
  return out;
}

/** Causal attention of every query head; query head h reads key/value head floor(h / (H / Hkv)). */
function attend(c: DecoderConfig, q: Vec[], k: Vec[], v: Vec[], mask: number[], probsOut: Float64Array[]): Vec[] {
  const T = q.length, H = c.n_head, hd = c.head_dim, group = c.n_head / c.n_kv_head;
  const out = q.map(() => new Float64Array(H * hd));
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    const P = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      const inWindow = (j: number) => c.sliding_window === null || i - j < c.sliding_window;
      const allowed = (j: number) => j <= i && inWindow(j) && mask[j] === 1;
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

/** mask[j] = 0 hides key j (padding); positions are 0..T-1 either way. */
export function referenceForward(c: DecoderConfig, W: Weights, tokens: number[], mask?: number[],
  opts: ReferenceOptions = {}): ReferenceOutput {
  const m = mask ?? tokens.map(() => 1);
  const C = c.n_embd, qDim = c.n_head * c.head_dim, kvDim = c.n_kv_head * c.head_dim;
  const opt = (name: string) => W.get(name)?.data;
  const norm = (x: Vec, name: string) => c.norm === 'rmsnorm'
    ? rmsNorm(x, w(W, `${name}.weight`), c.norm_eps)
    : layerNorm(x, w(W, `${name}.weight`), c.bias.norm ? w(W, `${name}.bias`) : undefined, c.norm_eps);
  const lin = (x: Vec, name: string, out: number, bias: boolean) =>
    matvec(x, w(W, `${name}.weight`), out, bias ? w(W, `${name}.bias`) : undefined);
  const gelu = c.gelu === 'exact' ? geluExact : geluTanh;

  let x = tokens.map((t, p) => {
    const e = opts.embeddings ? Float64Array.from(opts.embeddings[p]) : row(w(W, 'tok_emb'), t, C);
    return c.position === 'learned' ? e.map((v, i) => v + w(W, 'pos_emb')[p * C + i]) : e;
  });
  const attention: Float64Array[][] = [];
  const hidden: Float64Array[][] = [];
  for (let l = 0; l < c.n_layer; l++) {
    const p = `layers.${l}.`;
    const h = x.map((xt) => norm(xt, p + 'ln_1'));
    let q = h.map((ht) => lin(ht, p + 'attn.q', qDim, c.bias.qkv));
    let k = h.map((ht) => lin(ht, p + 'attn.k', kvDim, c.bias.qkv));
    const v = h.map((ht) => lin(ht, p + 'attn.v', kvDim, c.bias.qkv));
    if (c.position === 'rope') {
      q = q.map((qt, t) => rope(c, qt, c.n_head, t));
      k = k.map((kt, t) => rope(c, kt, c.n_kv_head, t));
    }
    const probs: Float64Array[] = [];
    const a = attend(c, q, k, v, m, probs);
    attention.push(probs);
    const mlp = (u: Vec) => {
      const up = lin(u, p + 'mlp.up', c.d_ff, c.bias.mlp);
      const hidden = c.mlp === 'swiglu'
        ? lin(u, p + 'mlp.gate', c.d_ff, c.bias.mlp).map((g, i) => silu(g) * up[i])
        : up.map(gelu);
      return lin(hidden, p + 'mlp.down', C, c.bias.mlp);
    };
    x = x.map((xt, t) => {
      const o = lin(a[t], p + 'attn.o', C, c.bias.o);
      if (c.parallel_residual) {
        const f = mlp(norm(xt, p + 'ln_2'));
        return xt.map((val, i) => val + o[i] + f[i]);
      }
      const y = xt.map((val, i) => val + o[i]);
      const f = mlp(norm(y, p + 'ln_2'));
      return y.map((val, i) => val + f[i]);
    });
    hidden.push(x);
  }
  const E = c.tied_head ? w(W, 'tok_emb') : opt('head.weight')!;
  const decode = (xs: Vec[]) => xs.map((xt) => classify(norm(xt, 'ln_f'), E, c.vocab_size));
  return { logits: decode(x), attention, hidden, lens: opts.lens ? hidden.map(decode) : undefined };
}

/** Greedy decoding with the reference: argmax of the last position, stopping after `eos`. */
export function referenceGreedy(c: DecoderConfig, weights: Weights, prompt: number[], maxNew: number, eos?: number): number[] {
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

/** Per-token loss (nats) of tokens[t+1] after tokens[..t], from reference logits over the whole width. */
export function referenceLosses(ref: ReferenceOutput, tokens: number[]): number[] {
  return tokens.slice(1).map((next, t) => {
    const r = ref.logits[t];
    const max = Math.max(...r);
    const lse = max + Math.log(r.reduce((s, v) => s + Math.exp(v - max), 0));
    return lse - r[next];
  });
}
