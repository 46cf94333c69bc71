// Hugging Face GPT-NeoX (the Pythia suite): LayerNorm with biases, exact GELU, parallel residual
// (x + attn(ln_1(x)) + mlp(ln_2(x))), rotary embeddings on the first rotary_pct of each head in the
// rotate-half layout, and an untied output layer (embed_out). query_key_value holds, for each head in
// turn, that head's q, k and v rows: output row h*3*hd + j*hd + d is head h, part j (q, k, v), dim d.
import type { DecoderConfig } from '../models/config';
import { checkHeads, geluKind, HfFamily } from './hfConfig';
import { findPrefix, TensorPicker } from './pick';

export const hfGptNeox: HfFamily = {
  config(cfg) {
    const C = cfg.int('hidden_size');
    const H = cfg.int('num_attention_heads');
    const hd = C / H;
    if (!Number.isInteger(hd)) throw new Error(`${cfg.path}: hidden_size ${C} is not a multiple of num_attention_heads ${H}.`);
    if (cfg.has('rope_scaling')) throw cfg.refuse('rope_scaling for gpt_neox');
    const pct = cfg.num('rotary_pct', cfg.num('partial_rotary_factor', 1));
    const c: DecoderConfig = {
      arch: 'gpt_neox', vocab_size: cfg.int('vocab_size'), n_layer: cfg.int('num_hidden_layers'), n_head: H, n_kv_head: H,
      n_embd: C, head_dim: hd, d_ff: cfg.int('intermediate_size', 4 * C), block_size: cfg.int('max_position_embeddings', 2048),
      norm: 'layernorm', norm_eps: cfg.num('layer_norm_eps', 1e-5), mlp: 'gelu', gelu: geluKind(cfg, 'hidden_act', 'gelu'),
      position: 'rope', rope_theta: cfg.num('rotary_emb_base', cfg.num('rope_theta', 10000)), rope_layout: 'half',
      // As transformers computes it: int(head_size * rotary_pct).
      rotary_dim: Math.floor(hd * pct), rope_scaling: null,
      parallel_residual: cfg.bool('use_parallel_residual', true),
      bias: { qkv: cfg.bool('attention_bias', true), o: cfg.bool('attention_bias', true), mlp: true, norm: true },
      tied_head: cfg.bool('tie_word_embeddings', false), sliding_window: null,
    };
    checkHeads(c, cfg.path);
    return c;
  },

  weights(src, c) {
    const prefix = findPrefix(src, 'embed_in.weight', ['gpt_neox.', '']);
    const p = new TensorPicker(src, prefix);
    const C = c.n_embd, F = c.d_ff, H = c.n_head, hd = c.head_dim;
    p.copy('tok_emb', 'embed_in.weight', [c.vocab_size, C]);
    for (let i = 0; i < c.n_layer; i++) {
      const l = `layers.${i}.`, h = l;
      p.copy(l + 'ln_1.weight', h + 'input_layernorm.weight', [C]);
      p.copy(l + 'ln_1.bias', h + 'input_layernorm.bias', [C]);
      const qkv = p.get(h + 'attention.query_key_value.weight', [3 * C, C]);
      const qkvBias = c.bias.qkv ? p.get(h + 'attention.query_key_value.bias', [3 * C]) : null;
      ['q', 'k', 'v'].forEach((name, j) => {
        const w = new Float32Array(C * C);
        const b = new Float32Array(C);
        for (let head = 0; head < H; head++) {
          for (let d = 0; d < hd; d++) {
            const row = head * 3 * hd + j * hd + d;
            const col = head * hd + d;
            for (let k = 0; k < C; k++) w[k * C + col] = qkv[row * C + k];
            if (qkvBias) b[col] = qkvBias[row];
          }
        }
        p.set(`${l}attn.${name}.weight`, w, [C, C]);
        if (qkvBias) p.set(`${l}attn.${name}.bias`, b, [C]);
      });
      p.set(l + 'attn.o.weight', p.linear(h + 'attention.dense.weight', C, C), [C, C]);
      if (c.bias.o) p.copy(l + 'attn.o.bias', h + 'attention.dense.bias', [C]);
      p.copy(l + 'ln_2.weight', h + 'post_attention_layernorm.weight', [C]);
      p.copy(l + 'ln_2.bias', h + 'post_attention_layernorm.bias', [C]);
      p.set(l + 'mlp.up.weight', p.linear(h + 'mlp.dense_h_to_4h.weight', F, C), [C, F]);
      p.copy(l + 'mlp.up.bias', h + 'mlp.dense_h_to_4h.bias', [F]);
      p.set(l + 'mlp.down.weight', p.linear(h + 'mlp.dense_4h_to_h.weight', C, F), [F, C]);
      p.copy(l + 'mlp.down.bias', h + 'mlp.dense_4h_to_h.bias', [C]);
    }
    p.copy('ln_f.weight', 'final_layer_norm.weight', [C]);
    p.copy('ln_f.bias', 'final_layer_norm.bias', [C]);
    if (!c.tied_head) p.set('head.weight', new TensorPicker(src).get('embed_out.weight', [c.vocab_size, C]), [c.vocab_size, C]);
    return p.weights;
  },
};
