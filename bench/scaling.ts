// npm run bench:scaling [-- --json] [--runs N] [--window W] [--tokens N] [--table FILE]: how time and memory grow with
// document length. Whole-file analysis (strided windows) of 1k, 4k and 16k tokens with windows of 512 and
// 1,024 tokens, as the editor runs it (ModelSession.analyzeWholeFile, incremental, with progress), on the
// model `token-lens write-random --arch gpt2 --preset gpt2-small` writes (random weights, GPT-2's tokenizer,
// context 1,024). Each cell runs in a process of its own, so that its peak memory is its own; every cell is
// measured `--runs` times (default 2) with the load average before and after, since the machine may be shared.
// Prints a Markdown table (the one in the README); with --json, one JSON line per measurement, which
// `--table FILE` turns into the table later.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MEMORY_BUDGET_MB } from '../src/core/runtime/cache';
import { ModelSession } from '../src/core/runtime/session';
import { textOfTokens } from './live';

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'bench');
const folder = path.join(cacheDir, 'gpt2-small-cli');
const LENGTHS = [1000, 4000, 16000];
const WINDOWS = [512, 1024];
const STORY = 'The old lighthouse keeper climbed the spiral stairs every evening, counting each step out loud ' +
  'so the silence would not swallow him. At the top he wiped the great lens with a soft cloth, lit the lamp, ' +
  'and watched the beam sweep across the restless water. Ships he would never meet passed safely in the dark. ';

interface Run {
  tokens: number;
  window: number;
  windows: number;
  seconds: number;
  msPerToken: number;
  /** Resident memory of the whole process (both threads, onnxruntime included) after loading, and its peak. */
  loadedMb: number;
  peakRssMb: number;
  /** Peak V8 heap of the calling thread (the extension host's side) during the analysis, sampled every 20 ms. */
  peakHeapMb: number;
  /** What the session keeps afterwards (scores, candidates, kept KV caches) as the memory budget counts it. */
  keptMb: number;
  /** 1-minute load average before and after. */
  load: [number, number];
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const load1 = () => Math.round(os.loadavg()[0] * 10) / 10;

/** One measurement, in this process (the parent runs each in a child). */
async function measure(tokens: number, window: number): Promise<Run> {
  const session = await ModelSession.load(folder, { cacheDir });
  try {
    const text = textOfTokens(session, STORY, tokens);
    const loadedMb = mb(process.memoryUsage().rss);
    let peakHeap = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); }, 20);
    const before = load1();
    const t0 = performance.now();
    let done = 0;
    const a = await session.analyzeWholeFile(text, { windowTokens: window, incremental: true, onProgress: (d) => { done = d; } });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    if (done !== a.windows.length || a.tokens.length < tokens) throw new Error('the analysis did not cover the text');
    return {
      tokens, window, windows: a.windows.length, seconds: Math.round(seconds * 10) / 10,
      msPerToken: Math.round((seconds * 1000 / tokens) * 100) / 100,
      loadedMb, peakRssMb: mb(process.resourceUsage().maxRSS * 1024), peakHeapMb: mb(peakHeap),
      keptMb: mb(session.memory.usedBytes), load: [before, load1()],
    };
  } finally {
    await session.dispose();
  }
}

function option(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

async function main(): Promise<void> {
  const child = process.argv.indexOf('--measure');
  if (child >= 0) {
    const [tokens, window] = process.argv.slice(child + 1, child + 3).map(Number);
    process.stdout.write(`${JSON.stringify(await measure(tokens, window))}\n`);
    return;
  }
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    const cli = path.join(root, 'dist', 'cli.js');
    if (!fs.existsSync(cli)) throw new Error('run `npm run build` first: the model is written by dist/cli.js write-random');
    execFileSync(process.execPath, [cli, 'write-random', '--arch', 'gpt2', '--preset', 'gpt2-small', '--out', folder], { stdio: 'inherit' });
  }
  const json = process.argv.includes('--json');
  const table = process.argv.indexOf('--table');
  if (table >= 0) {
    // A table from earlier measurements (the JSON lines this script printed).
    const saved = fs.readFileSync(process.argv[table + 1], 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Run);
    process.stdout.write(`${tableOf(saved)}\n`);
    return;
  }
  const windows = option('--window') ? [option('--window')!] : WINDOWS;
  const lengths = option('--tokens') ? [option('--tokens')!] : LENGTHS;
  const rounds = option('--runs') ?? 2;
  const runs: Run[] = [];
  // Every cell once, then again: the two runs of a cell are apart in time, so one burst of load hits one only.
  for (let r = 0; r < rounds; r++) {
    for (const window of windows) {
      for (const tokens of lengths) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--measure', String(tokens), String(window)],
          { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
        const run = JSON.parse(out.trim().split('\n').at(-1)!) as Run;
        runs.push(run);
        (json ? process.stdout : process.stderr).write(`${JSON.stringify(run)}\n`);
      }
    }
  }
  if (!json) process.stdout.write(`${tableOf(runs)}\n`);
}

/** One row per cell, its runs side by side (`a / b`). */
function tableOf(runs: Run[]): string {
  const cells = new Map<string, Run[]>();
  for (const r of [...runs].sort((a, b) => a.window - b.window || a.tokens - b.tokens)) {
    const key = `${r.window}:${r.tokens}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  const each = (cell: Run[], f: (r: Run) => string | number) => cell.map(f).join(' / ');
  return [
    `| tokens | window | windows | time (s) | ms/token | load (1 min, before → after) | RSS loaded → peak (MB) | peak host heap (MB) | kept (MB, budget ${DEFAULT_MEMORY_BUDGET_MB}) |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...cells.values()].map((c) => `| ${c[0].tokens.toLocaleString('en')} | ${c[0].window} | ${c[0].windows} | ${each(c, (r) => r.seconds)} | ` +
      `${each(c, (r) => r.msPerToken)} | ${each(c, (r) => `${r.load[0]} → ${r.load[1]}`)} | ` +
      `${each(c, (r) => `${r.loadedMb} → ${r.peakRssMb}`)} | ${each(c, (r) => r.peakHeapMb)} | ${each(c, (r) => r.keptMb)} |`),
  ].join('\n');
}

main().catch((e) => { process.stderr.write(`bench:scaling: ${e.stack ?? e}\n`); process.exitCode = 1; });
