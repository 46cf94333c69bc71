// stories260K.bin (llama2.c) rewritten as a Hugging Face Llama checkpoint, the way transformers'
// convert_llama_weights_to_hf.py does it: q and k rows permuted from llama2.c's interleaved RoPE pairs to
// rotate-half order (permute(w) = w.view(heads, dim1 / heads / 2, 2, dim2).transpose(1, 2)), everything
// else as it is ([out, in], like nn.Linear). Shares no code with src/.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensorsRef } from './safetensors';

function permute(w: Float32Array, heads: number, dim1: number, dim2: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = dim1 / heads / 2;
  for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) for (let j = 0; j < 2; j++) {
    const from = h * 2 * half + 2 * i + j;
    const to = h * 2 * half + j * half + i;
    out.set(w.subarray(from * dim2, (from + 1) * dim2), to * dim2);
  }
  return out;
}

/** Writes config.json and model.safetensors for `bin` into `dir` (the tokenizer files are the caller's). */
export function llama2cToHf(bin: string, dir: string): void {
  const buf = readFileSync(bin);
  const [dim, hidden, L, H, Hkv, vocabSigned, seq] = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(4 * i));
  const V = Math.abs(vocabSigned);
  const hd = dim / H, kv = Hkv * hd;
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
  let at = 0;
  const take = (n: number) => f.slice(at, (at += n));
  const perLayer = (n: number) => Array.from({ length: L }, () => take(n));
  const emb = take(V * dim);
  const attNorm = perLayer(dim), wq = perLayer(dim * dim), wk = perLayer(kv * dim), wv = perLayer(kv * dim), wo = perLayer(dim * dim);
  const ffnNorm = perLayer(dim), w1 = perLayer(hidden * dim), w2 = perLayer(dim * hidden), w3 = perLayer(hidden * dim);
  const norm = take(dim);
  const tensors: [string, { shape: number[]; data: Float32Array }][] = [['model.embed_tokens.weight', { shape: [V, dim], data: emb }]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    tensors.push(
      [p + 'input_layernorm.weight', { shape: [dim], data: attNorm[l] }],
      [p + 'self_attn.q_proj.weight', { shape: [dim, dim], data: permute(wq[l], H, dim, dim) }],
      [p + 'self_attn.k_proj.weight', { shape: [kv, dim], data: permute(wk[l], Hkv, kv, dim) }],
      [p + 'self_attn.v_proj.weight', { shape: [kv, dim], data: wv[l] }],
      [p + 'self_attn.o_proj.weight', { shape: [dim, dim], data: wo[l] }],
      [p + 'post_attention_layernorm.weight', { shape: [dim], data: ffnNorm[l] }],
      [p + 'mlp.gate_proj.weight', { shape: [hidden, dim], data: w1[l] }],
      [p + 'mlp.down_proj.weight', { shape: [dim, hidden], data: w2[l] }],
      [p + 'mlp.up_proj.weight', { shape: [hidden, dim], data: w3[l] }],
    );
  }
  tensors.push(['model.norm.weight', { shape: [dim], data: norm }]);
  if (vocabSigned < 0) {
    take(seq * hd); // legacy RoPE tables
    tensors.push(['lm_head.weight', { shape: [V, dim], data: take(V * dim) }]);
  }
  writeSafetensorsRef(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: dim, intermediate_size: hidden, num_hidden_layers: L,
    num_attention_heads: H, num_key_value_heads: Hkv, vocab_size: V, max_position_embeddings: seq, rms_norm_eps: 1e-5,
    rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: vocabSigned > 0, bos_token_id: 1, eos_token_id: 2,
  }, null, 1));
}
