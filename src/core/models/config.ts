// Model configurations as plain data, and the weight names every part of Token Lens agrees on.
//
// Weights live in memory as a Map from name to {data, shape}. Linear layers are stored as
// [in_features, out_features] so that y = x @ W (ONNX MatMul order). Embeddings are [vocab, dim].
//
// GPT-2 names (Hugging Face's, which nanoGPT also uses):
//   wte [V,C]  wpe [T,C]
//   h.{i}.ln_1.weight [C]  h.{i}.ln_1.bias [C]
//   h.{i}.attn.c_attn.weight [C,3C]  h.{i}.attn.c_attn.bias [3C]   (q, k, v concatenated in that order)
//   h.{i}.attn.c_proj.weight [C,C]   h.{i}.attn.c_proj.bias [C]
//   h.{i}.ln_2.weight [C]  h.{i}.ln_2.bias [C]
//   h.{i}.mlp.c_fc.weight [C,4C]    h.{i}.mlp.c_fc.bias [4C]
//   h.{i}.mlp.c_proj.weight [4C,C]  h.{i}.mlp.c_proj.bias [C]
//   ln_f.weight [C]  ln_f.bias [C]          the LM head is tied to wte
//
// Llama names (llama2.c's):
//   tok_embeddings [V,D]
//   layers.{i}.attention_norm [D]
//   layers.{i}.attention.wq [D, H*hd]  .wk [D, Hkv*hd]  .wv [D, Hkv*hd]  .wo [H*hd, D]
//   layers.{i}.ffn_norm [D]
//   layers.{i}.feed_forward.w1 [D,F]  .w2 [F,D]  .w3 [D,F]     SwiGLU: w2(silu(x w1) * (x w3))
//   norm [D]
//   output [V,D]   only when the classifier is not shared with tok_embeddings
// RoPE rotates interleaved pairs (2i, 2i+1) of each head, as llama2.c does.

export interface GPT2Config {
  arch: 'gpt2';
  n_layer: number;
  n_head: number;
  n_embd: number;
  block_size: number;
  vocab_size: number;
  layer_norm_eps: number;
}

export interface LlamaConfig {
  arch: 'llama';
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
  norm_eps: number;
  rope_theta: number;
  shared_classifier: boolean;
}

export type ModelConfig = GPT2Config | LlamaConfig;

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export type Weights = Map<string, Tensor>;

export function headSize(c: ModelConfig): number {
  return c.arch === 'gpt2' ? c.n_embd / c.n_head : c.dim / c.n_heads;
}

export function numLayers(c: ModelConfig): number {
  return c.arch === 'gpt2' ? c.n_layer : c.n_layers;
}

export function numHeads(c: ModelConfig): number {
  return c.arch === 'gpt2' ? c.n_head : c.n_heads;
}

export function numKvHeads(c: ModelConfig): number {
  return c.arch === 'gpt2' ? c.n_head : c.n_kv_heads;
}

export function contextLength(c: ModelConfig): number {
  return c.arch === 'gpt2' ? c.block_size : c.seq_len;
}

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
  rope_scaling: Llama3RopeScaling | null;
  parallel_residual: boolean;
  bias: { qkv: boolean; o: boolean; mlp: boolean; norm: boolean };
  tied_head: boolean;
  /** Mistral's sliding-window attention: texts longer than this are refused. */
  sliding_window: number | null;
}

/** Llama 3.x's frequency-dependent RoPE scaling (rope_type 'llama3'). */
export interface Llama3RopeScaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}
