// npm run bench:import [-- --json]: importing a GPT-2-small-sized Hugging Face checkpoint (124M parameters,
// random weights, one F32 model.safetensors written here once) into a Token Lens model folder.
// The import runs in a child process so that its peak memory is its own.
// Goals: importMs <= 10 s on a 2-core machine; peakRssMb <= 2 x fileMb.
// The last line is {"importMs","peakRssMb","fileMb"}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const json = process.argv.includes('--json');
const root = path.resolve(__dirname, '..');
const dir = path.join(root, '.cache', 'bench', 'gpt2-small-hf');
const out = path.join(root, '.cache', 'bench', 'gpt2-small-imported');
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);

const C = 768, L = 12, V = 50257, T = 1024;

function tensors(): [string, number[]][] {
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
function writeCheckpoint(): void {
  fs.mkdirSync(dir, { recursive: true });
  const list = tensors();
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, shape] of list) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (h.length % 8)) % 8);
  const fd = fs.openSync(path.join(dir, 'model.safetensors.tmp'), 'w');
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
  fs.renameSync(path.join(dir, 'model.safetensors.tmp'), path.join(dir, 'model.safetensors'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt2', vocab_size: V, n_embd: C, n_head: 12, n_layer: L, n_positions: T, layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new', bos_token_id: 50256, eos_token_id: 50256,
  }));
}

function main(): void {
  if (!fs.existsSync(path.join(dir, 'model.safetensors'))) {
    log('writing a GPT-2-small-sized model.safetensors with random weights (once)…');
    writeCheckpoint();
  }
  const fileMb = fs.statSync(path.join(dir, 'model.safetensors')).size / 2 ** 20;
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'importChild.ts'), dir, out], {
    cwd: root, encoding: 'utf8', maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`the import failed:\n${child.stderr}`);
  const { importMs, peakRssMb, baseRssMb } = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  fs.rmSync(out, { recursive: true, force: true });
  log(`import of a ${fileMb.toFixed(0)} MB safetensors file: ${(importMs / 1000).toFixed(2)} s (goal <= 10 s), ` +
    `peak RSS ${peakRssMb.toFixed(0)} MB = ${(peakRssMb / fileMb).toFixed(2)} x the file (goal <= 2 x; ${baseRssMb.toFixed(0)} MB before the import)`);
  process.stdout.write(`${JSON.stringify({ importMs: Math.round(importMs), peakRssMb: Math.round(peakRssMb), fileMb: Math.round(fileMb) })}\n`);
}

main();
