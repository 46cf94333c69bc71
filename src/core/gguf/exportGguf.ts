// A model Token Lens wrote, as a GGUF file llama.cpp runs: the Llama architecture (RMSNorm, SwiGLU, RoPE,
// no biases) with a SentencePiece-style vocabulary, F32 tensors under llama.cpp's names.
//
// Two conversions matter. Token Lens keeps linear weights as [in, out]; GGML keeps [out][in] rows (dims
// [in, out]), so they are transposed. GGML's normal RoPE rotates dims 2i and 2i+1 together, which is
// llama2.c's 'interleaved' layout; Hugging Face's 'half' layout is permuted into it, as llama.cpp's own
// converter does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fsAtomic';
import type { DecoderConfig, Tensor, Weights } from '../models/config';
import { MODEL_FILE, readModelFolderMeta, readModelFolderSpecialTokens, readWeightsFromOnnx } from '../models/folder';
import { idToPiece, specialIdsOf } from '../tokenizers/offsets';
import { ggufParts, type GgufTensor, type GgufValue } from './ggufFile';

export class GgufExportError extends Error {}

/** Writes the model folder `dir` as the GGUF file `out`; returns how many tensors were written. */
export async function exportGguf(dir: string, out: string): Promise<{ tensors: number; bytes: number }> {
  let config: DecoderConfig;
  try {
    config = readModelFolderMeta(dir).config;
  } catch (e) {
    throw new GgufExportError(`${dir} is not a model Token Lens wrote: ${(e as Error).message}`);
  }
  checkLlama(config);
  const weights = readWeightsFromOnnx(readFileSync(join(dir, MODEL_FILE)), config);
  const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const special = readModelFolderSpecialTokens(dir);
  const metadata = [...llamaMetadata(config), ...spmVocabulary(tokenizer, config.vocab_size, special)];
  const tensors = llamaTensors(config, weights);
  const parts = ggufParts(metadata, tensors);
  await writeFileAtomic(out, parts);
  return { tensors: tensors.length, bytes: parts.reduce((a, p) => a + p.length, 0) };
}

function checkLlama(c: DecoderConfig): void {
  const why: string[] = [];
  if (c.norm !== 'rmsnorm') why.push('LayerNorm');
  if (c.mlp !== 'swiglu') why.push('a GELU MLP');
  if (c.position !== 'rope') why.push('learned positions');
  if (c.rotary_dim !== c.head_dim) why.push('partial rotary embeddings');
  if (c.rope_scaling) why.push('Llama 3 RoPE scaling');
  if (c.parallel_residual) why.push('a parallel residual');
  if (c.bias.qkv || c.bias.o || c.bias.mlp || c.bias.norm) why.push('biases');
  if (c.sliding_window) why.push('sliding-window attention');
  if (why.length) {
    throw new GgufExportError(`export-gguf writes the Llama architecture; this ${c.arch} model has ${why.join(', ')}.`);
  }
}

function llamaMetadata(c: DecoderConfig): [string, GgufValue][] {
  return [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: `token-lens ${c.arch}` }],
    ['general.file_type', { type: 'u32', value: 0 }],
    ['llama.context_length', { type: 'u32', value: c.block_size }],
    ['llama.embedding_length', { type: 'u32', value: c.n_embd }],
    ['llama.block_count', { type: 'u32', value: c.n_layer }],
    ['llama.feed_forward_length', { type: 'u32', value: c.d_ff }],
    ['llama.attention.head_count', { type: 'u32', value: c.n_head }],
    ['llama.attention.head_count_kv', { type: 'u32', value: c.n_kv_head }],
    ['llama.attention.key_length', { type: 'u32', value: c.head_dim }],
    ['llama.attention.value_length', { type: 'u32', value: c.head_dim }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: c.norm_eps }],
    ['llama.rope.dimension_count', { type: 'u32', value: c.rotary_dim }],
    ['llama.rope.freq_base', { type: 'f32', value: c.rope_theta }],
    ['llama.vocab_size', { type: 'u32', value: c.vocab_size }],
  ];
}

const SPACE = '\u2581';
const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;
// llama.cpp's token types.
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

/**
 * A SentencePiece-style BPE tokenizer.json (▁ for spaces, <0xAB> byte pieces) as llama.cpp's `llama`
 * tokenizer. That tokenizer merges the adjacent pair whose piece has the best score: a piece's score is
 * minus the rank of the first merge that makes it, so the merges happen in the tokenizer.json's order.
 */
function spmVocabulary(tokenizer: Record<string, unknown>, vocabSize: number, special: { bos?: number; eos?: number | number[] }): [string, GgufValue][] {
  const model = tokenizer.model as { type?: string; merges?: (string | [string, string])[]; byte_fallback?: boolean; unk_token?: string } | undefined;
  const pieces = idToPiece(tokenizer);
  const metaspace = JSON.stringify(tokenizer.decoder ?? null).includes(SPACE);
  if (model?.type !== 'BPE' || !metaspace) {
    throw new GgufExportError('export-gguf writes SentencePiece-style vocabularies (Llama 2, llama2.c); this tokenizer is ' +
      `${model?.type ?? 'unknown'}${metaspace ? '' : ' without ▁ spaces'}.`);
  }
  if (pieces.length !== vocabSize || pieces.some((p) => p === undefined)) {
    throw new GgufExportError(`the tokenizer has ${pieces.length} pieces with gaps or a size other than the model's ${vocabSize}.`);
  }
  const firstMerge = new Map<string, number>();
  (model.merges ?? []).forEach((m, rank) => {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    if (!firstMerge.has(a + b)) firstMerge.set(a + b, rank);
  });
  const specials = specialIdsOf(tokenizer);
  const unk = model.unk_token !== undefined ? pieces.indexOf(model.unk_token) : -1;
  const types = pieces.map((p, id) => (id === unk ? UNKNOWN : specials.has(id) ? CONTROL : BYTE_PIECE.test(p) ? BYTE : NORMAL));
  const scores = pieces.map((p) => -(firstMerge.get(p) ?? 0));
  const eos = Array.isArray(special.eos) ? special.eos[0] : special.eos;
  const addsBos = JSON.stringify(tokenizer.post_processor ?? null).includes('SpecialToken');
  const meta: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: pieces }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: addsBos && special.bos !== undefined }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];
  if (special.bos !== undefined) meta.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: special.bos }]);
  if (eos !== undefined) meta.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  if (unk >= 0) meta.push(['tokenizer.ggml.unknown_token_id', { type: 'u32', value: unk }]);
  return meta;
}

function llamaTensors(c: DecoderConfig, w: Weights): GgufTensor[] {
  const get = (name: string): Tensor => {
    const t = w.get(name);
    if (!t) throw new GgufExportError(`the model has no weight ${name}`);
    return t;
  };
  /** [in, out] -> GGML rows of `in` values, one per output. */
  const linear = (name: string, to: string, rope = false): GgufTensor => {
    const { data, shape: [inp, out] } = get(name);
    const rows = new Float32Array(inp * out);
    const col = rope && c.rope_layout === 'half' ? halfToInterleaved(c.head_dim) : (o: number) => o;
    for (let o = 0; o < out; o++) {
      const from = col(o);
      for (let i = 0; i < inp; i++) rows[o * inp + i] = data[i * out + from];
    }
    return { name: to, dims: [inp, out], data: rows };
  };
  const vector = (name: string, to: string): GgufTensor => ({ name: to, dims: [get(name).data.length], data: get(name).data });
  const tensors: GgufTensor[] = [{ name: 'token_embd.weight', dims: [c.n_embd, c.vocab_size], data: get('tok_emb').data }];
  for (let l = 0; l < c.n_layer; l++) {
    const p = `layers.${l}.`;
    const b = `blk.${l}.`;
    tensors.push(
      vector(`${p}ln_1.weight`, `${b}attn_norm.weight`),
      linear(`${p}attn.q.weight`, `${b}attn_q.weight`, true),
      linear(`${p}attn.k.weight`, `${b}attn_k.weight`, true),
      linear(`${p}attn.v.weight`, `${b}attn_v.weight`),
      linear(`${p}attn.o.weight`, `${b}attn_output.weight`),
      vector(`${p}ln_2.weight`, `${b}ffn_norm.weight`),
      linear(`${p}mlp.gate.weight`, `${b}ffn_gate.weight`),
      linear(`${p}mlp.down.weight`, `${b}ffn_down.weight`),
      linear(`${p}mlp.up.weight`, `${b}ffn_up.weight`),
    );
  }
  tensors.push(vector('ln_f.weight', 'output_norm.weight'));
  // A tied head is left out: llama.cpp then uses token_embd as the output layer.
  if (!c.tied_head) tensors.push({ name: 'output.weight', dims: [c.n_embd, c.vocab_size], data: get('head.weight').data });
  return tensors;
}

/** For output column o in the interleaved layout, the column of the 'half' layout it comes from. */
function halfToInterleaved(headDim: number): (o: number) => number {
  const half = headDim / 2;
  return (o) => {
    const head = Math.floor(o / headDim);
    const d = o % headDim;
    return head * headDim + (d % 2 === 0 ? d / 2 : half + (d - 1) / 2);
  };
}
