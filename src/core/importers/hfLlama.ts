// Hugging Face Llama and its close relatives: Llama 2 / 3 / 3.2, TinyLlama, SmolLM (llama), Qwen2
// (q/k/v biases) and Mistral (sliding-window attention). RMSNorm, SwiGLU, RoPE in the rotate-half layout
// (so the q/k rows need no permutation), grouped-query attention, optional attention and MLP biases, and
// RoPE scaling of type llama3, linear or dynamic.
import type { DecoderConfig, RopeScaling } from '../models/config';
import { checkHeads, HfConfig, HfFamily } from './hfConfig';
import { findPrefix, TensorPicker } from './pick';

/** The RoPE scalings that are cheap and exact here; others (yarn, longrope, ...) are refused by name. */
function ropeScaling(cfg: HfConfig, raw: unknown): RopeScaling | null {
  if (raw == null) return null;
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  if (type === 'default' || type === undefined) return null;
  if (type !== 'llama3' && type !== 'linear' && type !== 'dynamic') {
    throw cfg.refuse(`rope_scaling of type "${String(type)}" (Token Lens runs "llama3", "linear" and "dynamic")`);
  }
  const num = (k: string) => {
    const v = r[k];
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`${cfg.path}: rope_scaling.${k} is ${JSON.stringify(v)}; expected a positive number.`);
    return v;
  };
  if (type !== 'llama3') return { rope_type: type, factor: num('factor') };
  return {
    rope_type: 'llama3', factor: num('factor'), low_freq_factor: num('low_freq_factor'),
    high_freq_factor: num('high_freq_factor'), original_max_position_embeddings: num('original_max_position_embeddings'),
  };
}

function llamaLike(kind: 'llama' | 'qwen2' | 'mistral'): HfFamily {
  return {
    config(cfg) {
      const act = cfg.str('hidden_act', 'silu');
      if (act !== 'silu') throw cfg.refuse(`hidden_act "${act}" (Llama-style models use silu)`);
      if (kind === 'qwen2' && cfg.bool('use_sliding_window', false)) {
        throw cfg.refuse('use_sliding_window: true (Qwen2\'s sliding window on the layers past max_window_layers)');
      }
      const C = cfg.int('hidden_size');
      const H = cfg.int('num_attention_heads');
      const hd = cfg.int('head_dim', Math.floor(C / H));
      // transformers 5 moves rope_theta and rope_scaling into rope_parameters.
      const params = (cfg.json.rope_parameters ?? null) as Record<string, unknown> | null;
      const theta = params && typeof params.rope_theta === 'number' ? params.rope_theta : cfg.num('rope_theta', 10000);
      const attentionBias = cfg.bool('attention_bias', false);
      // Mistral 7B v0.1 attends within a window of 4096; later Mistral configs set sliding_window null.
      const window = kind === 'mistral' && cfg.has('sliding_window') ? cfg.int('sliding_window') : null;
      const c: DecoderConfig = {
        arch: kind, vocab_size: cfg.int('vocab_size'), n_layer: cfg.int('num_hidden_layers'), n_head: H,
        n_kv_head: cfg.int('num_key_value_heads', H), n_embd: C, head_dim: hd, d_ff: cfg.int('intermediate_size'),
        block_size: cfg.int('max_position_embeddings', 2048), norm: 'rmsnorm', norm_eps: cfg.num('rms_norm_eps', 1e-6),
        mlp: 'swiglu', gelu: 'tanh', position: 'rope', rope_theta: theta, rope_layout: 'half', rotary_dim: hd,
        rope_scaling: ropeScaling(cfg, params ?? cfg.json.rope_scaling),
        parallel_residual: false,
        bias: {
          qkv: kind === 'qwen2' || attentionBias, o: kind !== 'qwen2' && attentionBias,
          mlp: cfg.bool('mlp_bias', false), norm: false,
        },
        tied_head: cfg.bool('tie_word_embeddings', false), sliding_window: window,
      };
      checkHeads(c, cfg.path);
      return c;
    },

    weights(src, c) {
      const prefix = findPrefix(src, 'embed_tokens.weight', ['model.', '']);
      const p = new TensorPicker(src, prefix);
      const C = c.n_embd, F = c.d_ff, Q = c.n_head * c.head_dim, KV = c.n_kv_head * c.head_dim;
      p.copy('tok_emb', 'embed_tokens.weight', [c.vocab_size, C]);
      for (let i = 0; i < c.n_layer; i++) {
        const l = `layers.${i}.`, h = l; // HF's per-layer prefix happens to be the canonical one
        p.copy(l + 'ln_1.weight', h + 'input_layernorm.weight', [C]);
        const proj = { q: Q, k: KV, v: KV };
        for (const [name, out] of Object.entries(proj)) {
          p.set(`${l}attn.${name}.weight`, p.linear(`${h}self_attn.${name}_proj.weight`, out, C), [C, out]);
          if (c.bias.qkv) p.copy(`${l}attn.${name}.bias`, `${h}self_attn.${name}_proj.bias`, [out]);
        }
        p.set(l + 'attn.o.weight', p.linear(h + 'self_attn.o_proj.weight', C, Q), [Q, C]);
        if (c.bias.o) p.copy(l + 'attn.o.bias', h + 'self_attn.o_proj.bias', [C]);
        p.copy(l + 'ln_2.weight', h + 'post_attention_layernorm.weight', [C]);
        for (const [name, fin, fout] of [['gate', C, F], ['up', C, F], ['down', F, C]] as const) {
          p.set(`${l}mlp.${name}.weight`, p.linear(`${h}mlp.${name}_proj.weight`, fout, fin), [fin, fout]);
          if (c.bias.mlp) p.copy(`${l}mlp.${name}.bias`, `${h}mlp.${name}_proj.bias`, [fout]);
        }
      }
      p.copy('ln_f.weight', 'norm.weight', [C]);
      if (!c.tied_head) p.set('head.weight', new TensorPicker(src).get('lm_head.weight', [c.vocab_size, C]), [c.vocab_size, C]);
      return p.weights;
    },
  };
}

export const hfLlama = llamaLike('llama');
export const hfQwen2 = llamaLike('qwen2');
export const hfMistral = llamaLike('mistral');
