// A GPT-2-small-sized Hugging Face checkpoint with random weights (124M parameters, one F32
// model.safetensors of ~500 MB, GPT-2's tokenizer.json), written once under .cache/bench/: what
// `npm run bench:import` times and what the import scenario of test/e2e imports and cancels.
// Run directly, it writes the folder if needed and prints its path; `medium` writes GPT-2-medium's shape
// (355M parameters, 1.4 GB: an import that lasts long enough to cancel), `large` GPT-2-large's (774M
// parameters, 3.1 GB: past the 2 GB a single .onnx file can hold).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gpt2TokenizerFiles } from '../src/core/tokenizers/gpt2';

const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
const SIZES = { small: { C: 768, L: 12, H: 12 }, medium: { C: 1024, L: 24, H: 16 }, large: { C: 1280, L: 36, H: 20 } };
type Size = keyof typeof SIZES;
const V = 50257, T = 1024;

export const checkpointDir = (size: Size) => path.resolve(__dirname, '..', '.cache', 'bench', `gpt2-${size}-hf`);

function tensors({ C, L }: { C: number; L: number }): [string, number[]][] {
  const list: [string, number[]][] = [['wte.weight', [V, C]], ['wpe.weight', [T, C]]];
  for (let i = 0; i < L; i++) {
    const p = `h.${i}.`;
    list.push([p + 'ln_1.weight', [C]], [p + 'ln_1.bias', [C]], [p + 'attn.c_attn.weight', [C, 3 * C]], [p + 'attn.c_attn.bias', [3 * C]],
      [p + 'attn.c_proj.weight', [C, C]], [p + 'attn.c_proj.bias', [C]], [p + 'ln_2.weight', [C]], [p + 'ln_2.bias', [C]],
      [p + 'mlp.c_fc.weight', [C, 4 * C]], [p + 'mlp.c_fc.bias', [4 * C]], [p + 'mlp.c_proj.weight', [4 * C, C]], [p + 'mlp.c_proj.bias', [C]]);
  }
  list.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  return list;
}

/** model.safetensors written tensor by tensor (never the whole file in memory), with small random values. */
function writeSafetensors(file: string, size: Size): void {
  const list = tensors(SIZES[size]);
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, shape] of list) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (h.length % 8)) % 8);
  const fd = fs.openSync(`${file}.tmp`, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, h);
  let seed = 12345;
  for (const [, shape] of list) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = (seed / 2 ** 32 - 0.5) * 0.04;
    }
    fs.writeSync(fd, new Uint8Array(data.buffer));
  }
  fs.closeSync(fd);
  fs.renameSync(`${file}.tmp`, file);
}

/** The checkpoint folder, written first if any of its files is missing. */
export function gpt2Checkpoint(size: Size, log: (s: string) => void = () => {}): string {
  const dir = checkpointDir(size);
  if (FILES.every((f) => fs.existsSync(path.join(dir, f)))) return dir;
  log(`writing a GPT-2-${size}-sized model.safetensors with random weights (once)…`);
  const { C, L, H } = SIZES[size];
  fs.mkdirSync(dir, { recursive: true });
  const tok = gpt2TokenizerFiles();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt2', vocab_size: V, n_embd: C, n_head: H, n_layer: L, n_positions: T, layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new', bos_token_id: 50256, eos_token_id: 50256,
  }));
  writeSafetensors(path.join(dir, 'model.safetensors'), size);
  return dir;
}

export const gpt2SmallCheckpoint = (log?: (s: string) => void) => gpt2Checkpoint('small', log);

if (require.main === module) {
  const size: Size = process.argv[2] === 'large' || process.argv[2] === 'medium' ? process.argv[2] : 'small';
  process.stdout.write(`${gpt2Checkpoint(size, (s) => process.stderr.write(`${s}\n`))}\n`);
}
