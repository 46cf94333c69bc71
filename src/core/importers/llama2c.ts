// Imports a llama2.c checkpoint (legacy format: 7 int32 header, then float32 tensors) and its
// tokenizer.bin into a Token Lens model folder.
//
// llama2.c stores linears as [out, in]; Token Lens keeps [in, out] (y = x W), so they are transposed.
// Embeddings and norms are views over the file's bytes, nothing copied. llama2.c's RoPE rotates
// interleaved pairs, so q and k keep their column order (rope_layout 'interleaved', no permutation).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { DecoderConfig, Weights } from '../models/config';
import { writeModelFolder } from '../models/folder';
import { llamaConfig } from '../models/presets';
import { llama2cTokenizerFiles, readLlama2cTokenizer } from '../tokenizers/llama2c';
import type { LoadProgress } from '../types';
import { transpose } from './pick';

const HEADER_BYTES = 7 * 4;
// Newer llama2.c exports (version 1 and 2) begin with this magic instead of a header.
const MAGIC_AK42 = 0x616b3432;

function checkpointError(why: string): Error {
  return new Error(`Not a valid llama2.c checkpoint: ${why}.`);
}

export function readLlama2cHeader(buf: Uint8Array): DecoderConfig {
  if (buf.byteLength < HEADER_BYTES) throw checkpointError(`the file has ${buf.byteLength} bytes, less than its header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) === MAGIC_AK42) {
    throw checkpointError('it uses the newer "ak42" export format; export it with llama2.c\'s legacy format (version 0)');
  }
  const h = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocabSigned, seq_len] = h;
  const sane = (v: number, max: number) => Number.isInteger(v) && v > 0 && v <= max;
  if (
    !sane(dim, 65536) || !sane(hidden_dim, 1 << 20) || !sane(n_layers, 1024) || !sane(n_heads, 1024) ||
    !sane(n_kv_heads, n_heads) || !sane(Math.abs(vocabSigned), 1 << 22) || !sane(seq_len, 1 << 22) ||
    dim % n_heads !== 0 || n_heads % n_kv_heads !== 0 || (dim / n_heads) % 2 !== 0
  ) {
    throw checkpointError(`the header [dim ${dim}, hidden ${hidden_dim}, layers ${n_layers}, heads ${n_heads}, ` +
      `kv heads ${n_kv_heads}, vocab ${vocabSigned}, seq ${seq_len}] is not a consistent model`);
  }
  return llamaConfig({
    n_embd: dim, d_ff: hidden_dim, n_layer: n_layers, n_head: n_heads, n_kv_head: n_kv_heads,
    vocab_size: Math.abs(vocabSigned), block_size: seq_len, tied_head: vocabSigned > 0,
  });
}

/** The tensors in file order with llama2.c's shapes ([out, in] for linears), under Token Lens's names. */
function layout(c: DecoderConfig): { name: string; shape: number[]; linear: boolean }[] {
  const qDim = c.n_head * c.head_dim, kvDim = c.n_kv_head * c.head_dim;
  const per = (name: string, shape: number[], linear: boolean) =>
    Array.from({ length: c.n_layer }, (_, i) => ({ name: `layers.${i}.${name}`, shape, linear }));
  return [
    { name: 'tok_emb', shape: [c.vocab_size, c.n_embd], linear: false },
    ...per('ln_1.weight', [c.n_embd], false),                    // attention_norm
    ...per('attn.q.weight', [qDim, c.n_embd], true),             // wq
    ...per('attn.k.weight', [kvDim, c.n_embd], true),            // wk
    ...per('attn.v.weight', [kvDim, c.n_embd], true),            // wv
    ...per('attn.o.weight', [c.n_embd, qDim], true),             // wo
    ...per('ln_2.weight', [c.n_embd], false),                    // ffn_norm
    ...per('mlp.gate.weight', [c.d_ff, c.n_embd], true),         // w1
    ...per('mlp.down.weight', [c.n_embd, c.d_ff], true),         // w2
    ...per('mlp.up.weight', [c.d_ff, c.n_embd], true),           // w3
    { name: 'ln_f.weight', shape: [c.n_embd], linear: false },   // norm
    // Legacy RoPE tables (cos, sin): recomputed by the model, skipped here.
    { name: '', shape: [c.block_size, c.head_dim / 2], linear: false },
    { name: '', shape: [c.block_size, c.head_dim / 2], linear: false },
    ...(c.tied_head ? [] : [{ name: 'head.weight', shape: [c.vocab_size, c.n_embd], linear: false }]),
  ];
}

export function readLlama2cCheckpoint(buf: Uint8Array): { config: DecoderConfig; weights: Weights } {
  const config = readLlama2cHeader(buf);
  const tensors = layout(config);
  const floats = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const expected = HEADER_BYTES + floats * 4;
  if (buf.byteLength !== expected) {
    const how = buf.byteLength < expected ? 'truncated' : 'longer than its header says';
    throw checkpointError(`the file is ${how}: ${buf.byteLength} bytes, the header implies ${expected}`);
  }
  // Float32Array views need 4-byte alignment; copy only when the buffer does not have it.
  const aligned = (buf.byteOffset + HEADER_BYTES) % 4 === 0 ? buf : new Uint8Array(buf);
  const data = new Float32Array(aligned.buffer, aligned.byteOffset + HEADER_BYTES, floats);
  const weights: Weights = new Map();
  let at = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const view = data.subarray(at, at + n);
    at += n;
    if (!t.name) continue;
    if (t.linear) {
      const [out, inp] = t.shape;
      weights.set(t.name, { data: transpose(view, out, inp), shape: [inp, out] });
    } else {
      weights.set(t.name, { data: view, shape: t.shape });
    }
  }
  return { config, weights };
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`The ${what} file ${path} does not exist.`);
    if (code === 'EISDIR') throw new Error(`The ${what} path ${path} is a folder, not a file.`);
    throw new Error(`Cannot read the ${what} file ${path}: ${(e as Error).message}`);
  }
}

export async function importLlama2c(opts: {
  checkpoint: string;
  tokenizer: string;
  out: string;
  onProgress?: (p: LoadProgress) => void;
}): Promise<{ config: DecoderConfig }> {
  const say = (message: string) => opts.onProgress?.({ status: 'prepare', message });
  say(`Reading ${opts.checkpoint}`);
  const { config, weights } = readLlama2cCheckpoint(await readInput(opts.checkpoint, 'checkpoint'));
  say(`Reading ${opts.tokenizer}`);
  const tok = readLlama2cTokenizer(await readInput(opts.tokenizer, 'tokenizer'));
  if (tok.pieces.length !== config.vocab_size) {
    throw new Error(`The tokenizer ${opts.tokenizer} has ${tok.pieces.length} tokens but the checkpoint ` +
      `${opts.checkpoint} has a vocabulary of ${config.vocab_size}: they do not belong together.`);
  }
  const c = config;
  const description = [
    `# ${basename(opts.checkpoint).replace(/\.bin$/, '')}`,
    '',
    `Imported from the llama2.c checkpoint \`${basename(opts.checkpoint)}\` and tokenizer \`${basename(opts.tokenizer)}\`.`,
    '',
    `Llama architecture: dim ${c.n_embd}, hidden ${c.d_ff}, ${c.n_layer} layers, ${c.n_head} heads ` +
      `(${c.n_kv_head} key/value), vocabulary ${c.vocab_size}, context ${c.block_size}, ` +
      `${c.tied_head ? 'classifier shared with the token embedding' : 'separate classifier'}.`,
  ].join('\n');
  say(`Writing ${opts.out}`);
  await writeModelFolder(opts.out, {
    config,
    weights,
    tokenizer: llama2cTokenizerFiles(tok, { modelMaxLength: config.block_size }),
    attentionOutputs: true,
    description,
  });
  say('Imported');
  return { config };
}
