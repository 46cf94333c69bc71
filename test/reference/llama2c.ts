// Reads a legacy llama2.c checkpoint and tokenizer straight from their documented layout, for tests
// that check the writer against a real pretrained model.
import { readFileSync } from 'node:fs';
import type { LlamaConfig, Weights } from '../../src/core/models/config';

export function readLlama2c(path: string): { config: LlamaConfig; weights: Weights } {
  const buf = readFileSync(path);
  const header = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocabSigned, seq_len] = header;
  const vocab_size = Math.abs(vocabSigned);
  const config: LlamaConfig = { arch: 'llama', dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
    norm_eps: 1e-5, rope_theta: 10000, shared_classifier: vocabSigned > 0 };
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
  let at = 0;
  const take = (n: number) => f.subarray(at, (at += n));
  const hd = dim / n_heads;
  const kv = n_kv_heads * hd;
  const weights: Weights = new Map();
  /** [out, in] rows -> [in, out] */
  const linear = (name: string, data: Float32Array, out: number, inp: number) => {
    const t = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = data[o * inp + i];
    weights.set(name, { data: t, shape: [inp, out] });
  };
  weights.set('tok_embeddings', { data: take(vocab_size * dim).slice(), shape: [vocab_size, dim] });
  const perLayer = (n: number) => Array.from({ length: n_layers }, () => take(n));
  const att = perLayer(dim), wq = perLayer(dim * dim), wk = perLayer(kv * dim), wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim), ffn = perLayer(dim);
  const w1 = perLayer(hidden_dim * dim), w2 = perLayer(dim * hidden_dim), w3 = perLayer(hidden_dim * dim);
  for (let l = 0; l < n_layers; l++) {
    const p = `layers.${l}.`;
    weights.set(p + 'attention_norm', { data: att[l].slice(), shape: [dim] });
    linear(p + 'attention.wq', wq[l], dim, dim);
    linear(p + 'attention.wk', wk[l], kv, dim);
    linear(p + 'attention.wv', wv[l], kv, dim);
    linear(p + 'attention.wo', wo[l], dim, dim);
    weights.set(p + 'ffn_norm', { data: ffn[l].slice(), shape: [dim] });
    linear(p + 'feed_forward.w1', w1[l], hidden_dim, dim);
    linear(p + 'feed_forward.w2', w2[l], dim, hidden_dim);
    linear(p + 'feed_forward.w3', w3[l], hidden_dim, dim);
  }
  weights.set('norm', { data: take(dim).slice(), shape: [dim] });
  take(seq_len * hd); // legacy RoPE tables
  if (!config.shared_classifier) weights.set('output', { data: take(vocab_size * dim).slice(), shape: [vocab_size, dim] });
  return { config, weights };
}

/** Decodes ids as llama2.c does: drop the space after BOS, <0xXX> pieces are bytes. */
export function decodeLlama2c(tokPath: string, ids: number[]): string {
  const buf = readFileSync(tokPath);
  const pieces: Buffer[] = [];
  let at = 4;
  while (at < buf.length) {
    const len = buf.readInt32LE(at + 4);
    pieces.push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  const bytes: number[] = [];
  ids.forEach((id, i) => {
    let piece = pieces[id];
    if (i > 0 && ids[i - 1] === 1 && piece[0] === 0x20) piece = piece.subarray(1);
    const m = /^<0x([0-9A-F]{2})>$/.exec(piece.toString('latin1'));
    if (m) bytes.push(parseInt(m[1], 16));
    else if (id > 2) bytes.push(...piece);
  });
  return Buffer.from(bytes).toString('utf8');
}
