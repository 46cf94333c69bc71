// Reads a legacy llama2.c checkpoint and tokenizer straight from their documented layout, for tests
// that check the writer against a real pretrained model.
import { readFileSync } from 'node:fs';
import type { DecoderConfig, Weights } from '../../src/core/models/config';

/** The checkpoint under Token Lens's weight names (config.ts), q and k columns as they are (interleaved RoPE). */
export function readLlama2c(path: string): { config: DecoderConfig; weights: Weights } {
  const buf = readFileSync(path);
  const header = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocabSigned, seq_len] = header;
  const vocab_size = Math.abs(vocabSigned);
  const hd = dim / n_heads;
  const config: DecoderConfig = {
    arch: 'llama', vocab_size, n_layer: n_layers, n_head: n_heads, n_kv_head: n_kv_heads, n_embd: dim, head_dim: hd,
    d_ff: hidden_dim, block_size: seq_len, norm: 'rmsnorm', norm_eps: 1e-5, mlp: 'swiglu', gelu: 'tanh', position: 'rope',
    rope_theta: 10000, rope_layout: 'interleaved', rotary_dim: hd, rope_scaling: null, parallel_residual: false,
    bias: { qkv: false, o: false, mlp: false, norm: false }, tied_head: vocabSigned > 0, sliding_window: null,
  };
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
  let at = 0;
  const take = (n: number) => f.subarray(at, (at += n));
  const kv = n_kv_heads * hd;
  const weights: Weights = new Map();
  /** [out, in] rows -> [in, out] */
  const linear = (name: string, data: Float32Array, out: number, inp: number) => {
    const t = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = data[o * inp + i];
    weights.set(name, { data: t, shape: [inp, out] });
  };
  weights.set('tok_emb', { data: take(vocab_size * dim).slice(), shape: [vocab_size, dim] });
  const perLayer = (n: number) => Array.from({ length: n_layers }, () => take(n));
  const att = perLayer(dim), wq = perLayer(dim * dim), wk = perLayer(kv * dim), wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim), ffn = perLayer(dim);
  const w1 = perLayer(hidden_dim * dim), w2 = perLayer(dim * hidden_dim), w3 = perLayer(hidden_dim * dim);
  for (let l = 0; l < n_layers; l++) {
    const p = `layers.${l}.`;
    weights.set(p + 'ln_1.weight', { data: att[l].slice(), shape: [dim] });
    linear(p + 'attn.q.weight', wq[l], dim, dim);
    linear(p + 'attn.k.weight', wk[l], kv, dim);
    linear(p + 'attn.v.weight', wv[l], kv, dim);
    linear(p + 'attn.o.weight', wo[l], dim, dim);
    weights.set(p + 'ln_2.weight', { data: ffn[l].slice(), shape: [dim] });
    linear(p + 'mlp.gate.weight', w1[l], hidden_dim, dim);
    linear(p + 'mlp.down.weight', w2[l], dim, hidden_dim);
    linear(p + 'mlp.up.weight', w3[l], hidden_dim, dim);
  }
  weights.set('ln_f.weight', { data: take(dim).slice(), shape: [dim] });
  take(seq_len * hd); // legacy RoPE tables
  if (!config.tied_head) weights.set('head.weight', { data: take(vocab_size * dim).slice(), shape: [vocab_size, dim] });
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
