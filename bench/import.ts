// npm run bench:import [-- --json]: importing a GPT-2-small-sized Hugging Face checkpoint (124M parameters,
// random weights, one F32 model.safetensors written once by randomCheckpoint.ts) into a Token Lens model folder.
// The import runs in a child process so that its peak memory is its own.
// Goals: importMs <= 10 s on a 2-core machine; peakRssMb <= 2 x fileMb.
// The last line is {"importMs","peakRssMb","fileMb"}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gpt2SmallCheckpoint } from './randomCheckpoint';

const json = process.argv.includes('--json');
const root = path.resolve(__dirname, '..');
const out = path.join(root, '.cache', 'bench', 'gpt2-small-imported');
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);

function main(): void {
  const dir = gpt2SmallCheckpoint(log);
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
