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
