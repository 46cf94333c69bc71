// Model configurations as plain data, and the weight names every part of Token Lens agrees on.
//
// Weights live in memory as a Map from name to {data, shape}.

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export type Weights = Map<string, Tensor>;

// ---------------------------------------------------------------------------------------------------
// One decoder, many architectures. Every architecture Token Lens runs (GPT-2, nanoGPT, Llama 2/3,
// Qwen2, Mistral, GPT-NeoX/Pythia, llama2.c) is this config: the differences are options, not copies
// of the model. Weights use the names below, whatever the checkpoint called them.
//
//   tok_emb [V, C]                         pos_emb [block_size, C]        (position 'learned' only)
//   layers.{i}.ln_1.weight [C]             layers.{i}.ln_1.bias [C]       (bias: norm 'layernorm' only)
//   layers.{i}.attn.q.weight [C, H*hd]     layers.{i}.attn.q.bias [H*hd]  (bias.qkv)
//   layers.{i}.attn.k.weight [C, Hkv*hd]   layers.{i}.attn.k.bias [Hkv*hd]
//   layers.{i}.attn.v.weight [C, Hkv*hd]   layers.{i}.attn.v.bias [Hkv*hd]
//   layers.{i}.attn.o.weight [H*hd, C]     layers.{i}.attn.o.bias [C]     (bias.o)
//   layers.{i}.ln_2.weight [C]             layers.{i}.ln_2.bias [C]
//   layers.{i}.mlp.up.weight [C, F]        layers.{i}.mlp.up.bias [F]     (bias.mlp)
//   layers.{i}.mlp.gate.weight [C, F]                                     (mlp 'swiglu' only)
//   layers.{i}.mlp.down.weight [F, C]      layers.{i}.mlp.down.bias [C]   (bias.mlp)
//   ln_f.weight [C]                        ln_f.bias [C]
//   head.weight [V, C]                     (absent when tied_head: the head is tok_emb)
//
// Linear weights are [in, out] (y = x @ W + b). q and k columns are in the layout rope_layout names:
// 'half' is Hugging Face's rotate_half (dims i and i + rotary_dim/2 pair up), 'interleaved' is
// llama2.c's (dims 2i and 2i+1 pair up). SwiGLU: down(silu(x @ gate) * (x @ up)).
// GPT-NeoX's parallel residual: x + attn(ln_1(x)) + mlp(ln_2(x)); otherwise
// x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).

export interface DecoderConfig {
  /** The family the weights came from, for display and export: 'gpt2', 'llama', 'qwen2', 'gpt_neox', ... */
  arch: string;
  vocab_size: number;
  n_layer: number;
  n_head: number;
  /** Key/value heads (grouped-query attention); n_head when every head has its own. */
  n_kv_head: number;
  n_embd: number;
  /** Per-head size; n_embd / n_head unless the checkpoint says otherwise. */
  head_dim: number;
  /** MLP hidden width. */
  d_ff: number;
  /** Context length. */
  block_size: number;
  norm: 'layernorm' | 'rmsnorm';
  norm_eps: number;
  mlp: 'gelu' | 'swiglu';
  /** GELU flavour, for mlp 'gelu': tanh approximation (GPT-2) or exact erf (nanoGPT, GPT-NeoX). */
  gelu: 'tanh' | 'exact';
  position: 'learned' | 'rope';
  rope_theta: number;
  rope_layout: 'interleaved' | 'half';
  /** How many dims of each head rotate (partial rotary: GPT-NeoX's rotary_pct * head_dim). */
  rotary_dim: number;
  rope_scaling: RopeScaling | null;
  parallel_residual: boolean;
  bias: { qkv: boolean; o: boolean; mlp: boolean; norm: boolean };
  tied_head: boolean;
  /**
   * Mistral's sliding-window attention: each query sees itself and the sliding_window - 1 keys before it
   * (Hugging Face's convention); null: every earlier key.
   */
  sliding_window: number | null;
}

/**
 * RoPE scaling as Hugging Face's rope_type names it: Llama 3.x's frequency-dependent 'llama3'; 'linear'
 * (positions divided by factor); 'dynamic' (NTK: the base grows only for texts longer than the context,
 * block_size, which Token Lens never runs, so within it the frequencies are the default ones).
 */
export type RopeScaling = Llama3RopeScaling | { rope_type: 'linear'; factor: number } | { rope_type: 'dynamic'; factor: number };

/** Llama 3.x's frequency-dependent RoPE scaling (rope_type 'llama3'). */
export interface Llama3RopeScaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}
