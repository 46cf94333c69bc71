// Hugging Face GPT-2 (gpt2, distilgpt2, ...). Its Conv1D weights are already [in, out]; c_attn holds
// q, k and v side by side and is split. attn.bias / attn.masked_bias are causal-mask buffers, not
// parameters, and are not read.
import type { DecoderConfig } from '../models/config';
import { checkHeads, geluKind, HfConfig, HfFamily } from './hfConfig';
import { columns, findPrefix, TensorPicker } from './pick';

export const hfGpt2: HfFamily = {
  config(cfg: HfConfig): DecoderConfig {
    const C = cfg.int('n_embd');
    const H = cfg.int('n_head');
    if (cfg.bool('scale_attn_by_inverse_layer_idx', false)) throw cfg.refuse('scale_attn_by_inverse_layer_idx');
    if (!cfg.bool('scale_attn_weights', true)) throw cfg.refuse('scale_attn_weights: false');
    const c: DecoderConfig = {
      arch: 'gpt2', vocab_size: cfg.int('vocab_size'), n_layer: cfg.int('n_layer'), n_head: H, n_kv_head: H,
      n_embd: C, head_dim: C / H, d_ff: cfg.int('n_inner', 4 * C), block_size: cfg.int('n_positions', cfg.int('n_ctx', 1024)),
      norm: 'layernorm', norm_eps: cfg.num('layer_norm_epsilon', 1e-5), mlp: 'gelu',
      gelu: geluKind(cfg, 'activation_function', 'gelu_new'), position: 'learned', rope_theta: 10000,
      rope_layout: 'half', rotary_dim: 0, rope_scaling: null, parallel_residual: false,
      bias: { qkv: true, o: true, mlp: true, norm: true }, tied_head: cfg.bool('tie_word_embeddings', true),
      sliding_window: null,
    };
    if (!Number.isInteger(c.head_dim)) throw new Error(`${cfg.path}: n_embd ${C} is not a multiple of n_head ${H}.`);
    checkHeads(c, cfg.path);
    return c;
  },

  weights(src, c) {
    // Saved from GPT2LMHeadModel the names start with 'transformer.'; from GPT2Model (the Hub's gpt2) they do not.
    const prefix = findPrefix(src, 'wte.weight', ['transformer.', '']);
    const p = new TensorPicker(src, prefix);
    const C = c.n_embd, F = c.d_ff;
    p.copy('tok_emb', 'wte.weight', [c.vocab_size, C]);
    p.copy('pos_emb', 'wpe.weight', [c.block_size, C]);
    for (let i = 0; i < c.n_layer; i++) {
      const h = `h.${i}.`, l = `layers.${i}.`;
      p.copy(l + 'ln_1.weight', h + 'ln_1.weight', [C]);
      p.copy(l + 'ln_1.bias', h + 'ln_1.bias', [C]);
      const qkv = p.get(h + 'attn.c_attn.weight', [C, 3 * C]);
      const qkvBias = p.get(h + 'attn.c_attn.bias', [3 * C]);
      ['q', 'k', 'v'].forEach((name, j) => {
        p.set(`${l}attn.${name}.weight`, columns(qkv, C, 3 * C, j * C, C), [C, C]);
        p.set(`${l}attn.${name}.bias`, qkvBias.slice(j * C, (j + 1) * C), [C]);
      });
      p.copy(l + 'attn.o.weight', h + 'attn.c_proj.weight', [C, C]);
      p.copy(l + 'attn.o.bias', h + 'attn.c_proj.bias', [C]);
      p.copy(l + 'ln_2.weight', h + 'ln_2.weight', [C]);
      p.copy(l + 'ln_2.bias', h + 'ln_2.bias', [C]);
      p.copy(l + 'mlp.up.weight', h + 'mlp.c_fc.weight', [C, F]);
      p.copy(l + 'mlp.up.bias', h + 'mlp.c_fc.bias', [F]);
      p.copy(l + 'mlp.down.weight', h + 'mlp.c_proj.weight', [F, C]);
      p.copy(l + 'mlp.down.bias', h + 'mlp.c_proj.bias', [C]);
    }
    p.copy('ln_f.weight', 'ln_f.weight', [C]);
    p.copy('ln_f.bias', 'ln_f.bias', [C]);
    // lm_head sits beside 'transformer.', never under it.
    if (!c.tied_head) p.set('head.weight', new TensorPicker(src).get('lm_head.weight', [c.vocab_size, C]), [c.vocab_size, C]);
    return p.weights;
  },
};
