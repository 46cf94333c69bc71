// GPT-2 (Radford et al. 2019) as nanoGPT writes it: pre-LayerNorm blocks, GELU-tanh MLP, learned
// positions, biases everywhere, LM head tied to the token embedding.
import type { GPT2Config } from '../models/config';
import { Value } from './autodiff';
import { add, matmul } from './ops';
import { reshape, transpose, split } from './shape';
import { attention, gather, gelu, layerNorm } from './nn';
import type { ModelWeights } from './params';

export function gptShapes(c: GPT2Config): [string, number[]][] {
  const C = c.n_embd;
  const out: [string, number[]][] = [['wte', [c.vocab_size, C]], ['wpe', [c.block_size, C]]];
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    out.push([p + 'ln_1.weight', [C]], [p + 'ln_1.bias', [C]],
      [p + 'attn.c_attn.weight', [C, 3 * C]], [p + 'attn.c_attn.bias', [3 * C]],
      [p + 'attn.c_proj.weight', [C, C]], [p + 'attn.c_proj.bias', [C]],
      [p + 'ln_2.weight', [C]], [p + 'ln_2.bias', [C]],
      [p + 'mlp.c_fc.weight', [C, 4 * C]], [p + 'mlp.c_fc.bias', [4 * C]],
      [p + 'mlp.c_proj.weight', [4 * C, C]], [p + 'mlp.c_proj.bias', [C]]);
  }
  out.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  return out;
}

/** Logits [B*T, V] for token ids [B*T]. */
export function gptForward(c: GPT2Config, w: ModelWeights, ids: Value, B: number, T: number): Value {
  const C = c.n_embd, H = c.n_head, hd = C / H;
  const eps = c.layer_norm_eps;
  const positions = new Value(w.t, w.t.b.constInt64([...Array(T).keys()]), [T]);
  const tok = reshape(gather(w.get('wte'), ids), [B, T, C]);
  let x = reshape(add(tok, gather(w.get('wpe'), positions)), [B * T, C]);
  const ln = (v: Value, name: string) => layerNorm(v, w.get(name + '.weight'), w.get(name + '.bias'), eps);
  const linear = (v: Value, name: string) => add(w.linear(v, name + '.weight'), w.get(name + '.bias'));
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    // One transpose brings q, k and v to [B,H,T,hd] together: [B,T,3,H,hd] -> [3,B,H,T,hd].
    const qkv = transpose(reshape(linear(ln(x, p + 'ln_1'), p + 'attn.c_attn'), [B, T, 3, H, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = split(qkv, 0, 3).map((m) => reshape(m, [B, H, T, hd]));
    x = add(x, linear(attention(q, k, v, w.onProbs), p + 'attn.c_proj'));
    const h = gelu(linear(ln(x, p + 'ln_2'), p + 'mlp.c_fc'));
    x = add(x, add(matmul(h, w.get(p + 'mlp.c_proj.weight')), w.get(p + 'mlp.c_proj.bias')));
  }
  return w.head(ln(x, 'ln_f'), 'wte');
}
