// Llama (as llama2.c): RMSNorm, interleaved RoPE, grouped-query attention, SwiGLU MLP.
import type { LlamaConfig } from '../models/config';
import { Value } from './autodiff';
import { add, mul, sub, matmul } from './ops';
import { reshape, transpose, split, concat } from './shape';
import { attention, gather, rmsNorm, silu } from './nn';
import type { ModelWeights } from './params';

/** Rotary position embedding on interleaved pairs (2i, 2i+1) of each head: x [B,H,T,hd]. */
export function rope(x: Value, theta: number): Value {
  const [B, H, T, hd] = x.shape;
  const half = hd / 2;
  const cos = new Float64Array(T * half), sin = new Float64Array(T * half);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / Math.pow(theta, (2 * i) / hd);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const c = x.t.constValue(cos, [T, half, 1], `rope_cos_${theta}`), s = x.t.constValue(sin, [T, half, 1], `rope_sin_${theta}`);
  const pairs = reshape(x, [B, H, T, half, 2]);
  const [x0, x1] = split(pairs, 4, 2);
  const y0 = sub(mul(x0, c), mul(x1, s));
  const y1 = add(mul(x0, s), mul(x1, c));
  return reshape(concat([y0, y1], 4), [B, H, T, hd]);
}

export function llamaShapes(c: LlamaConfig): [string, number[]][] {
  const hd = c.dim / c.n_heads;
  const out: [string, number[]][] = [['tok_embeddings', [c.vocab_size, c.dim]]];
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}.`;
    out.push([p + 'attention_norm', [c.dim]],
      [p + 'attention.wq', [c.dim, c.n_heads * hd]], [p + 'attention.wk', [c.dim, c.n_kv_heads * hd]],
      [p + 'attention.wv', [c.dim, c.n_kv_heads * hd]], [p + 'attention.wo', [c.n_heads * hd, c.dim]],
      [p + 'ffn_norm', [c.dim]],
      [p + 'feed_forward.w1', [c.dim, c.hidden_dim]], [p + 'feed_forward.w2', [c.hidden_dim, c.dim]],
      [p + 'feed_forward.w3', [c.dim, c.hidden_dim]]);
  }
  out.push(['norm', [c.dim]]);
  if (!c.shared_classifier) out.push(['output', [c.vocab_size, c.dim]]);
  return out;
}

/** Logits [B*T, V] for token ids [B*T]. */
export function llamaForward(c: LlamaConfig, w: ModelWeights, ids: Value, B: number, T: number): Value {
  const hd = c.dim / c.n_heads;
  const heads = (v: Value, n: number) => transpose(reshape(v, [B, T, n, hd]), [0, 2, 1, 3]);
  let x = gather(w.get('tok_embeddings'), ids);
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}.`;
    const h = rmsNorm(x, w.get(p + 'attention_norm'), c.norm_eps);
    const q = rope(heads(w.linear(h, p + 'attention.wq'), c.n_heads), c.rope_theta);
    const k = rope(heads(w.linear(h, p + 'attention.wk'), c.n_kv_heads), c.rope_theta);
    const v = heads(w.linear(h, p + 'attention.wv'), c.n_kv_heads);
    x = add(x, w.linear(attention(q, k, v, w.onProbs), p + 'attention.wo'));
    const h2 = rmsNorm(x, w.get(p + 'ffn_norm'), c.norm_eps);
    const a = mul(silu(matmul(h2, w.get(p + 'feed_forward.w1'))), matmul(h2, w.get(p + 'feed_forward.w3')));
    x = add(x, matmul(a, w.get(p + 'feed_forward.w2')));
  }
  x = rmsNorm(x, w.get('norm'), c.norm_eps);
  return w.head(x, c.shared_classifier ? 'tok_embeddings' : 'output');
}
