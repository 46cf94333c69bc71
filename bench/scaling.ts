// npm run bench:scaling [-- --json]: how time and memory grow with document length. Whole-file analysis
// (strided windows) of 1k, 4k and 16k tokens with windows of 512 and 1,024 tokens, on the GPT-2-small-shaped
// model of `npm run bench` (random weights, GPT-2's tokenizer), each in a process of its own so that its peak
// memory is its own. Prints a Markdown table (the one in the README); with --json, one JSON line per run.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODEL_PRESETS } from '../src/core/models/presets';
import { randomWeights } from '../src/core/models/random';
import { writeModelFolder } from '../src/core/models/folder';
import { gpt2TokenizerFiles } from '../src/core/tokenizers/gpt2';
import { DEFAULT_MEMORY_BUDGET_MB } from '../src/core/runtime/cache';
import { ModelSession } from '../src/core/runtime/session';
import { textOfTokens } from './live';

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'bench');
const folder = path.join(cacheDir, 'gpt2-small-random-ranked');
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
  /** Resident memory after loading the model, and its peak during the analysis. */
  loadedMb: number;
  peakMb: number;
  /** What the analysis keeps, as the memory budget counts it (limit: tokenLens.memoryBudgetMB). */
  keptMb: number;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** One measurement, in this process (the parent runs each in a child). */
async function measure(tokens: number, window: number): Promise<Run> {
  const session = await ModelSession.load(folder, { cacheDir });
  try {
    const text = textOfTokens(session, STORY, tokens);
    const loadedMb = mb(process.memoryUsage().rss);
    const t0 = performance.now();
    const a = await session.analyzeWholeFile(text, { windowTokens: window });
    const seconds = (performance.now() - t0) / 1000;
    return {
      tokens, window, windows: a.windows.length, seconds: Math.round(seconds * 10) / 10,
      msPerToken: Math.round((seconds * 1000 / tokens) * 100) / 100,
      loadedMb, peakMb: mb(process.resourceUsage().maxRSS * 1024), keptMb: mb(session.memory.usedBytes),
    };
  } finally {
    await session.dispose();
  }
}

async function main(): Promise<void> {
  const child = process.argv.indexOf('--measure');
  if (child >= 0) {
    const [tokens, window] = process.argv.slice(child + 1, child + 3).map(Number);
    process.stdout.write(`${JSON.stringify(await measure(tokens, window))}\n`);
    return;
  }
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    const config = MODEL_PRESETS['gpt2-small'];
    await writeModelFolder(folder, { config, weights: randomWeights(config, 1), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  }
  const json = process.argv.includes('--json');
  // `--window N`: only that window size.
  const only = process.argv.indexOf('--window');
  const windows = only >= 0 ? [Number(process.argv[only + 1])] : WINDOWS;
  const runs: Run[] = [];
  for (const window of windows) {
    for (const tokens of LENGTHS) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--measure', String(tokens), String(window)],
        { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      const run = JSON.parse(out.trim().split('\n').at(-1)!) as Run;
      runs.push(run);
      if (json) process.stdout.write(`${JSON.stringify(run)}\n`);
      else process.stderr.write(`${JSON.stringify(run)}\n`);
    }
  }
  if (json) return;
  const lines = [
    `| tokens | window | windows | time (s) | ms/token | RSS loaded → peak (MB) | kept by analyses (MB, budget ${DEFAULT_MEMORY_BUDGET_MB}) |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map((r) => `| ${r.tokens.toLocaleString('en')} | ${r.window} | ${r.windows} | ${r.seconds} | ${r.msPerToken} | ${r.loadedMb} → ${r.peakMb} | ${r.keptMb} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e) => { process.stderr.write(`bench:scaling: ${e.stack ?? e}\n`); process.exitCode = 1; });
