// An independent forward pass over a Hugging Face checkpoint folder (config.json + safetensors), by the
// checkpoint's own tensor names, straight from the formulas of transformers' modeling_gpt2.py,
// modeling_llama.py (also Qwen2, Mistral) and modeling_gpt_neox.py, in float64 with naive loops.
// It shares no code with src/: its own safetensors reader, its own RoPE, its own GELU.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { readSafetensorsRef, RefTensor } from './safetensors';

type Vec = Float64Array;
export type HfTensors = Map<string, RefTensor>;

export function readHfFolder(dir: string): { config: Record<string, any>; tensors: HfTensors } {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tensors: HfTensors = new Map();
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const files = new Set(Object.values<string>(JSON.parse(readFileSync(index, 'utf8')).weight_map));
    for (const f of files) readSafetensorsRef(join(dir, f), tensors);
  } else {
    readSafetensorsRef(join(dir, 'model.safetensors'), tensors);
  }
  return { config, tensors };
}

export interface HfReferenceOutput {
  logits: Float64Array[];
  /** attention[layer][head] is T x T row-major (query row, key column), one matrix per query head. */
  attention: Float64Array[][];
}

/** y = x W^T + b for an nn.Linear weight [out, in]. */
function linear(x: Vec, W: Float64Array, out: number, b?: Float64Array): Vec {
  const inp = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inp; i++) s += W[o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** y = x W + b for a GPT-2 Conv1D weight [in, out]. */
function conv1d(x: Vec, W: Float64Array, out: number, b: Float64Array): Vec {
  const y = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) for (let o = 0; o < out; o++) y[o] += x[i] * W[i * out + o];
  return y;
}

function layerNorm(x: Vec, g: Float64Array, b: Float64Array | undefined, eps: number): Vec {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i] + (b ? b[i] : 0));
}

function rmsNorm(x: Vec, g: Float64Array, eps: number): Vec {
  const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
  return x.map((v, i) => g[i] * (v / Math.sqrt(ms + eps)));
}

const geluTanh = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));

/** erf by Abramowitz-Stegun 7.1.26 is too coarse for 1e-4 on logits; this series/continued fraction is exact to ~1e-15. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 3) {
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc continued fraction for large |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
}
const geluExact = (u: number) => 0.5 * u * (1 + erf(u / Math.SQRT2));

/** Softmax over keys from..upto of a row; every other key gets probability 0. */
function softmaxRowCausal(scores: Vec, from: number, upto: number): Vec {
  let max = -Infinity;
  for (let j = from; j <= upto; j++) max = Math.max(max, scores[j]);
  const p = new Float64Array(scores.length);
  let z = 0;
  for (let j = from; j <= upto; j++) z += p[j] = Math.exp(scores[j] - max);
  for (let j = from; j <= upto; j++) p[j] /= z;
  return p;
}

/**
 * q[t] is [H*hd], k[t] and v[t] are [Hkv*hd]; query head h reads key/value head floor(h / (H / Hkv)).
 * With a sliding window (modeling_mistral.py's mask), query i sees keys j with i - window < j <= i.
 */
function attention(q: Vec[], k: Vec[], v: Vec[], H: number, Hkv: number, hd: number, scale: number, probs: Float64Array[],
  window: number | null = null): Vec[] {
  const T = q.length;
  const out = q.map(() => new Float64Array(H * hd));
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / (H / Hkv));
    const P = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      const s = new Float64Array(T);
      const from = window === null ? 0 : Math.max(0, i - window + 1);
      for (let j = from; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][kh * hd + d];
        s[j] = dot * scale;
      }
      const p = softmaxRowCausal(s, from, i);
      P.set(p, i * T);
      for (let j = from; j <= i; j++) for (let d = 0; d < hd; d++) out[i][h * hd + d] += p[j] * v[j][kh * hd + d];
    }
    probs.push(P);
  }
  return out;
}

/** Rotate-half RoPE on the first `rot` dims of each of `heads` heads of size hd, at position pos. */
function rotateHalf(x: Vec, heads: number, hd: number, rot: number, invFreq: number[], pos: number): Vec {
  const y = Float64Array.from(x);
  const half = rot / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i];
      const x1 = x[h * hd + i];
      const x2 = x[h * hd + i + half];
      y[h * hd + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
      y[h * hd + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
    }
  }
  return y;
}

function invFreqs(dim: number, base: number, scaling: any): number[] {
  const f = Array.from({ length: dim / 2 }, (_, i) => 1 / base ** ((2 * i) / dim));
  const type = scaling?.rope_type ?? scaling?.type;
  if (type !== 'llama3') return f;
  const { factor, low_freq_factor: lo, high_freq_factor: hi, original_max_position_embeddings: old } = scaling;
  return f.map((x) => {
    const wavelen = (2 * Math.PI) / x;
    if (wavelen < old / hi) return x;
    if (wavelen > old / lo) return x / factor;
    const smooth = (old / wavelen - lo) / (hi - lo);
    return (1 - smooth) * (x / factor) + smooth * x;
  });
}

function scores(x: Vec, E: Float64Array, V: number): Vec {
  return linear(x, E, V);
}

export function hfReferenceForward(dir: string, ids: number[]): HfReferenceOutput {
  const { config: c, tensors } = readHfFolder(dir);
  const t = (name: string) => {
    const x = tensors.get(name);
    if (!x) throw new Error(`reference: no ${name}`);
    return x.data;
  };
  const opt = (name: string) => tensors.get(name)?.data;
  const row = (M: Float64Array, r: number, n: number) => M.slice(r * n, (r + 1) * n);
  const probsAll: Float64Array[][] = [];
  const T = ids.length;

  if (c.model_type === 'gpt2') {
    const C = c.n_embd, H = c.n_head, hd = C / H, eps = c.layer_norm_epsilon ?? 1e-5;
    const pre = tensors.has('transformer.wte.weight') ? 'transformer.' : '';
    const act = (c.activation_function ?? 'gelu_new') === 'gelu' ? geluExact : geluTanh;
    let x = ids.map((id, p) => row(t(pre + 'wte.weight'), id, C).map((v, i) => v + t(pre + 'wpe.weight')[p * C + i]));
    for (let l = 0; l < c.n_layer; l++) {
      const p = `${pre}h.${l}.`;
      const qkv = x.map((xt) => conv1d(layerNorm(xt, t(p + 'ln_1.weight'), t(p + 'ln_1.bias'), eps), t(p + 'attn.c_attn.weight'), 3 * C, t(p + 'attn.c_attn.bias')));
      const probs: Float64Array[] = [];
      const a = attention(qkv.map((r) => r.slice(0, C)), qkv.map((r) => r.slice(C, 2 * C)), qkv.map((r) => r.slice(2 * C)), H, H, hd, 1 / Math.sqrt(hd), probs);
      probsAll.push(probs);
      x = x.map((xt, i) => {
        const y = xt.map((v, j) => v + conv1d(a[i], t(p + 'attn.c_proj.weight'), C, t(p + 'attn.c_proj.bias'))[j]);
        const m = conv1d(layerNorm(y, t(p + 'ln_2.weight'), t(p + 'ln_2.bias'), eps), t(p + 'mlp.c_fc.weight'), c.n_inner ?? 4 * C, t(p + 'mlp.c_fc.bias')).map(act);
        const f = conv1d(m, t(p + 'mlp.c_proj.weight'), C, t(p + 'mlp.c_proj.bias'));
        return y.map((v, j) => v + f[j]);
      });
    }
    const head = (c.tie_word_embeddings ?? true) ? t(pre + 'wte.weight') : t('lm_head.weight');
    return { logits: x.map((xt) => scores(layerNorm(xt, t(pre + 'ln_f.weight'), t(pre + 'ln_f.bias'), eps), head, c.vocab_size)), attention: probsAll };
  }

  if (['llama', 'qwen2', 'mistral'].includes(c.model_type)) {
    const C = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads ?? H;
    const hd = c.head_dim ?? C / H, eps = c.rms_norm_eps;
    const inv = invFreqs(hd, c.rope_theta ?? 10000, c.rope_scaling);
    let x = ids.map((id) => row(t('model.embed_tokens.weight'), id, C));
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `model.layers.${l}.self_attn.`;
      const h = x.map((xt) => rmsNorm(xt, t(`model.layers.${l}.input_layernorm.weight`), eps));
      const proj = (n: string, out: number) => h.map((ht) => linear(ht, t(`${p}${n}_proj.weight`), out, opt(`${p}${n}_proj.bias`)));
      const q = proj('q', H * hd).map((v, pos) => rotateHalf(v, H, hd, hd, inv, pos));
      const k = proj('k', Hkv * hd).map((v, pos) => rotateHalf(v, Hkv, hd, hd, inv, pos));
      const v = proj('v', Hkv * hd);
      const probs: Float64Array[] = [];
      const window = c.model_type === 'mistral' ? c.sliding_window ?? null : null;
      const a = attention(q, k, v, H, Hkv, hd, 1 / Math.sqrt(hd), probs, window);
      probsAll.push(probs);
      const m = `model.layers.${l}.mlp.`;
      x = x.map((xt, i) => {
        const o = linear(a[i], t(p + 'o_proj.weight'), C, opt(p + 'o_proj.bias'));
        const y = xt.map((val, j) => val + o[j]);
        const z = rmsNorm(y, t(`model.layers.${l}.post_attention_layernorm.weight`), eps);
        const gate = linear(z, t(m + 'gate_proj.weight'), c.intermediate_size);
        const up = linear(z, t(m + 'up_proj.weight'), c.intermediate_size);
        const d = linear(gate.map((g, j) => (g / (1 + Math.exp(-g))) * up[j]), t(m + 'down_proj.weight'), C);
        return y.map((val, j) => val + d[j]);
      });
    }
    const head = c.tie_word_embeddings ? t('model.embed_tokens.weight') : t('lm_head.weight');
    return { logits: x.map((xt) => scores(rmsNorm(xt, t('model.norm.weight'), eps), head, c.vocab_size)), attention: probsAll };
  }

  if (c.model_type === 'gpt_neox') {
    const C = c.hidden_size, H = c.num_attention_heads, hd = C / H, eps = c.layer_norm_eps ?? 1e-5;
    const rot = Math.floor(hd * (c.rotary_pct ?? 1));
    const inv = invFreqs(rot, c.rotary_emb_base ?? 10000, null);
    const act = c.hidden_act === 'gelu' ? geluExact : geluTanh;
    let x = ids.map((id) => row(t('gpt_neox.embed_in.weight'), id, C));
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `gpt_neox.layers.${l}.`;
      const qkv = x.map((xt) => linear(layerNorm(xt, t(p + 'input_layernorm.weight'), t(p + 'input_layernorm.bias'), eps),
        t(p + 'attention.query_key_value.weight'), 3 * C, t(p + 'attention.query_key_value.bias')));
      // Per head: [q | k | v], each hd wide.
      const part = (r: Vec, j: number) => {
        const out = new Float64Array(C);
        for (let h = 0; h < H; h++) for (let d = 0; d < hd; d++) out[h * hd + d] = r[h * 3 * hd + j * hd + d];
        return out;
      };
      const q = qkv.map((r, pos) => rotateHalf(part(r, 0), H, hd, rot, inv, pos));
      const k = qkv.map((r, pos) => rotateHalf(part(r, 1), H, hd, rot, inv, pos));
      const v = qkv.map((r) => part(r, 2));
      const probs: Float64Array[] = [];
      const a = attention(q, k, v, H, H, hd, 1 / Math.sqrt(hd), probs);
      probsAll.push(probs);
      const mlp = (z: Vec) => linear(linear(z, t(p + 'mlp.dense_h_to_4h.weight'), c.intermediate_size, t(p + 'mlp.dense_h_to_4h.bias')).map(act),
        t(p + 'mlp.dense_4h_to_h.weight'), C, t(p + 'mlp.dense_4h_to_h.bias'));
      const ln2 = (z: Vec) => layerNorm(z, t(p + 'post_attention_layernorm.weight'), t(p + 'post_attention_layernorm.bias'), eps);
      x = x.map((xt, i) => {
        const o = linear(a[i], t(p + 'attention.dense.weight'), C, t(p + 'attention.dense.bias'));
        if (c.use_parallel_residual ?? true) {
          const f = mlp(ln2(xt));
          return xt.map((val, j) => val + o[j] + f[j]);
        }
        const y = xt.map((val, j) => val + o[j]);
        const f = mlp(ln2(y));
        return y.map((val, j) => val + f[j]);
      });
    }
    const head = c.tie_word_embeddings ? t('gpt_neox.embed_in.weight') : t('embed_out.weight');
    return { logits: x.map((xt) => scores(layerNorm(xt, t('gpt_neox.final_layer_norm.weight'), t('gpt_neox.final_layer_norm.bias'), eps), head, c.vocab_size)), attention: probsAll };
  }
  throw new Error(`reference: model_type ${c.model_type}`);
}

/** -log softmax(logits[t])[ids[t + 1]] for every t but the last. */
export function perTokenLoss(logits: Float64Array[], ids: number[]): number[] {
  return ids.slice(1).map((next, t) => {
    const r = logits[t];
    const max = Math.max(...r);
    const lse = max + Math.log(r.reduce((a, v) => a + Math.exp(v - max), 0));
    return lse - r[next];
  });
}
