// An independent GGUF converter for llama2.c checkpoints, written from the GGUF spec and llama.cpp's
// tensor names. It shares no code with src/: the checkpoint and tokenizer are read from their raw
// layouts here, and the file is serialised here. llama2.c keeps its matrices as [out][in] rows, which is
// GGML's layout, so weights are copied as they are; its q/k use the interleaved RoPE pairs that GGML's
// normal RoPE expects. The tokenizer keeps llama2.c's own scores (the project's exporter derives them).
import { readFileSync, writeFileSync } from 'node:fs';

export interface ConvertOptions {
  /** Write the vocabulary only (no tensors), like llama.cpp's vocab-only files. */
  vocabOnly?: boolean;
  /** Another general.architecture (to test an unknown one). */
  architecture?: string;
}

export function convertLlama2cToGguf(checkpoint: string, tokenizer: string, out: string, opts: ConvertOptions = {}): void {
  const ck = readFileSync(checkpoint);
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from({ length: 7 }, (_, i) => ck.readInt32LE(i * 4));
  const vocab = Math.abs(vocabSigned);
  const headDim = dim / heads;
  let at = 28;
  const take = (n: number) => { const b = ck.subarray(at, at + n * 4); at += n * 4; return b; };
  const emb = take(vocab * dim);
  const per = (n: number) => Array.from({ length: layers }, () => take(n));
  const attNorm = per(dim), wq = per(dim * dim), wk = per(kvHeads * headDim * dim), wv = per(kvHeads * headDim * dim);
  const wo = per(dim * dim), ffnNorm = per(dim), w1 = per(hidden * dim), w2 = per(dim * hidden), w3 = per(hidden * dim);
  const finalNorm = take(dim);

  const tok = readFileSync(tokenizer);
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  let p = 4;
  for (let id = 0; id < vocab; id++) {
    scores.push(tok.readFloatLE(p));
    const len = tok.readInt32LE(p + 4);
    const raw = tok.subarray(p + 8, p + 8 + len).toString('utf8');
    p += 8 + len;
    if (id === 0) { pieces.push('<unk>'); types.push(2); continue; }
    if (id === 1) { pieces.push('<s>'); types.push(3); continue; }
    if (id === 2) { pieces.push('</s>'); types.push(3); continue; }
    const isByte = /^<0x[0-9A-F]{2}>$/.test(raw);
    pieces.push(isByte ? raw : raw.replace(/ /g, '\u2581'));
    types.push(isByte ? 6 : 1);
  }

  const chunks: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); chunks.push(b); };
  const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32LE(v); chunks.push(b); };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); chunks.push(b); };
  const f32 = (v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); chunks.push(b); };
  const str = (s: string) => { const b = Buffer.from(s, 'utf8'); u64(b.length); chunks.push(b); };
  const kvs: [string, () => void][] = [];
  const kvU32 = (k: string, v: number) => kvs.push([k, () => { u32(4); u32(v); }]);
  const kvF32 = (k: string, v: number) => kvs.push([k, () => { u32(6); f32(v); }]);
  const kvStr = (k: string, v: string) => kvs.push([k, () => { u32(8); str(v); }]);
  const kvBool = (k: string, v: boolean) => kvs.push([k, () => { u32(7); chunks.push(Buffer.from([v ? 1 : 0])); }]);
  const arch = opts.architecture ?? 'llama';
  kvStr('general.architecture', arch);
  kvStr('general.name', 'stories260K (reference converter)');
  kvU32(`${arch}.context_length`, seqLen);
  kvU32(`${arch}.embedding_length`, dim);
  kvU32(`${arch}.block_count`, layers);
  kvU32(`${arch}.feed_forward_length`, hidden);
  kvU32(`${arch}.attention.head_count`, heads);
  kvU32(`${arch}.attention.head_count_kv`, kvHeads);
  kvF32(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5);
  kvU32(`${arch}.rope.dimension_count`, headDim);
  kvStr('tokenizer.ggml.model', 'llama');
  kvs.push(['tokenizer.ggml.tokens', () => { u32(9); u32(8); u64(pieces.length); pieces.forEach(str); }]);
  kvs.push(['tokenizer.ggml.scores', () => { u32(9); u32(6); u64(scores.length); scores.forEach(f32); }]);
  kvs.push(['tokenizer.ggml.token_type', () => { u32(9); u32(5); u64(types.length); types.forEach(i32); }]);
  kvU32('tokenizer.ggml.bos_token_id', 1);
  kvU32('tokenizer.ggml.eos_token_id', 2);
  kvU32('tokenizer.ggml.unknown_token_id', 0);
  kvBool('tokenizer.ggml.add_bos_token', true);

  const tensors: [string, number[], Buffer][] = [];
  if (!opts.vocabOnly) {
    tensors.push(['token_embd.weight', [dim, vocab], emb]);
    for (let l = 0; l < layers; l++) {
      tensors.push(
        [`blk.${l}.attn_norm.weight`, [dim], attNorm[l]],
        [`blk.${l}.attn_q.weight`, [dim, dim], wq[l]],
        [`blk.${l}.attn_k.weight`, [dim, kvHeads * headDim], wk[l]],
        [`blk.${l}.attn_v.weight`, [dim, kvHeads * headDim], wv[l]],
        [`blk.${l}.attn_output.weight`, [dim, dim], wo[l]],
        [`blk.${l}.ffn_norm.weight`, [dim], ffnNorm[l]],
        [`blk.${l}.ffn_gate.weight`, [dim, hidden], w1[l]],
        [`blk.${l}.ffn_down.weight`, [hidden, dim], w2[l]],
        [`blk.${l}.ffn_up.weight`, [dim, hidden], w3[l]],
      );
    }
    tensors.push(['output_norm.weight', [dim], finalNorm]);
  }
  chunks.push(Buffer.from('GGUF', 'latin1'));
  u32(3);
  u64(tensors.length);
  u64(kvs.length);
  for (const [k, write] of kvs) { str(k); write(); }
  let offset = 0;
  const pad = (n: number) => (32 - (n % 32)) % 32;
  for (const [name, dims, data] of tensors) {
    str(name); u32(dims.length); dims.forEach(u64); u32(0); u64(offset);
    offset += data.length + pad(data.length);
  }
  const headerLength = chunks.reduce((a, c) => a + c.length, 0);
  chunks.push(Buffer.alloc(pad(headerLength)));
  for (const [, , data] of tensors) { chunks.push(data); chunks.push(Buffer.alloc(pad(data.length))); }
  writeFileSync(out, Buffer.concat(chunks));
}
