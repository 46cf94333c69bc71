// npm run bench:masked [-- --json]: what a masked model's pseudo-log-likelihood costs. A 64-token text on a
// bert-mini-shaped model (random weights), all in this process:
// pllMs:        ModelSession.analyze: the text and each token masked in turn, as one batched pass
// sequentialMs: the same rows run one pass each (what scoring token by token would cost)
// plainMs:      one pass over the text alone (what a causal model's analysis runs)
// batchRatio = pllMs / sequentialMs (below 1: batching pays); pllOverPlain = pllMs / plainMs.
// Each also as CPU time of the process (*CpuMs, every thread): on a busy machine wall time mostly measures
// the wait for a core, and the CPU ratios are the ones that compare the work.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ENCODER_PRESETS } from '../src/core/models/presets';
import { encoderWeightShapes } from '../src/core/models/encoder';
import { writeEncoderFolder } from '../src/core/models/encoderFolder';
import { randomTensors } from '../src/core/models/random';
import { ModelSession, inferenceSessionOptions } from '../src/core/runtime/session';
import { decoderFeeds } from '../src/core/runtime/forward';
import { basicWordPieceVocabulary, wordPieceTokenizerFiles } from '../src/core/tokenizers/wordpiece';

const json = process.argv.includes('--json');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
// onnxruntime's intra-op threads on both sides (default: its own choice); BENCH_THREADS=1 compares the work alone.
const THREADS = Number(process.env.BENCH_THREADS ?? 0) || undefined;
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(run: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  await run();
  const u = process.cpuUsage(c);
  return { wall: performance.now() - t, cpu: (u.user + u.system) / 1000 };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-bench-masked-'));
  try {
    const vocab = basicWordPieceVocabulary();
    const config = { ...ENCODER_PRESETS['bert-mini'], vocab_size: vocab.length, block_size: 128 };
    const folder = path.join(tmp, 'bert-mini');
    await writeEncoderFolder(folder, { config, weights: randomTensors(encoderWeightShapes(config), config.n_layer, 1), tokenizer: wordPieceTokenizerFiles(vocab) });
    const session = await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache'), threads: THREADS });
    const words = 'the little dog went to the park and saw a big red ball with her mom'.split(' ');
    const text = Array.from({ length: 62 }, (_, i) => words[i % words.length]).join(' ');
    const ids = session.encode(text);
    if (ids.length !== 64) throw new Error(`expected 64 tokens, got ${ids.length}`);
    const mask = session.info.maskId!;
    const rows = [ids, ...ids.slice(1, -1).map((_, i) => ids.map((id, j) => (j === i + 1 ? mask : id)))];
    const raw = await ort.InferenceSession.create(path.join(folder, 'onnx', 'model.onnx'), inferenceSessionOptions(THREADS));
    const cache = { kvHeads: config.n_head, headDim: config.n_embd / config.n_head };
    const pass = (batch: number[][]) => raw.run(decoderFeeds(raw.inputNames, batch, cache), ['logits']);
    const pll: { wall: number; cpu: number }[] = [], sequential: typeof pll = [], plain: typeof pll = [];
    for (let r = 0; r < ROUNDS; r++) {
      pll.push(await timed(() => session.analyze(text, { fresh: true })));
      sequential.push(await timed(async () => { for (const row of rows) await pass([row]); }));
      plain.push(await timed(() => pass([ids])));
    }
    await session.dispose();
    await raw.release();
    const wall = (xs: typeof pll) => median(xs.map((x) => x.wall));
    const cpu = (xs: typeof pll) => median(xs.map((x) => x.cpu));
    const result = {
      tokens: ids.length, rows: rows.length, pllMs: wall(pll), sequentialMs: wall(sequential), plainMs: wall(plain),
      batchRatio: wall(pll) / wall(sequential), pllOverPlain: wall(pll) / wall(plain),
      pllCpuMs: cpu(pll), sequentialCpuMs: cpu(sequential), plainCpuMs: cpu(plain),
      batchCpuRatio: cpu(pll) / cpu(sequential), pllOverPlainCpu: cpu(pll) / cpu(plain),
    };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      log(`bert-mini shape, ${result.tokens} tokens, ${result.rows} rows, median of ${ROUNDS}`);
      const row = (label: string, w: number, c: number, ratio = '') => log(`  ${label.padEnd(42)} ${w.toFixed(1).padStart(8)} ms wall ${c.toFixed(1).padStart(8)} ms CPU${ratio}`);
      row('pseudo-log-likelihood (one batched pass)', result.pllMs, result.pllCpuMs);
      row('the same rows one pass each', result.sequentialMs, result.sequentialCpuMs,
        `  (batchRatio ${result.batchRatio.toFixed(2)} wall, ${result.batchCpuRatio.toFixed(2)} CPU)`);
      row('one pass over the text', result.plainMs, result.plainCpuMs,
        `  (pllOverPlain ${result.pllOverPlain.toFixed(1)} wall, ${result.pllOverPlainCpu.toFixed(1)} CPU)`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
