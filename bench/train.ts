// Training speed: tokens/s of the ONNX trainer for the `toy` and `nanogpt-cpu` presets (2 threads, random
// data, vocab 65), and of the PyTorch peer when python3 has torch.
// usage: npm run bench:train -- [--json] [--steps N] [--rounds N]     env TORCH_BENCH = path of torch_gpt_bench.py
// Each side runs `rounds` times (default 3), in turns; the ratios are of the medians.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { randomWeights } from '../src/core/models/random';
import { presetConfig, TRAINING_PRESETS } from '../src/core/trainer/presets';
import { adamwDefaults } from '../src/core/trainer/optim';
import { TrainStep } from '../src/core/trainer/step';
import { Rng } from '../src/core/trainer/rng';

const args = process.argv.slice(2);
const json = args.includes('--json');
const steps = Number(args[args.indexOf('--steps') + 1]) || 30;
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3;
const threads = 2;

async function ours(preset: string): Promise<{ tokensPerSec: number; msPerStep: number; loss: number; wait: string }> {
  const config = presetConfig(preset, 65);
  const { batch_size: B, block_size: T } = TRAINING_PRESETS[preset];
  const w = randomWeights(config, 0);
  const params = new Map([...w].map(([k, v]) => [k, v.data]));
  const trainer = await TrainStep.create({ config, batch: B, block: T, params, optim: adamwDefaults(1e-3), threads });
  // One fixed random batch, as the peer does.
  const rng = new Rng(0);
  const data = Array.from({ length: B * (T + 1) }, () => rng.int(65));
  const idx = new BigInt64Array(B * T), targets = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    idx[b * T + t] = BigInt(data[b * (T + 1) + t]);
    targets[b * T + t] = BigInt(data[b * (T + 1) + t + 1]);
  }
  let loss = 0;
  // The first steps also time both ways of waiting between kernels and keep the quicker (spinChoice.ts).
  for (let i = 0; i < 20; i++) await trainer.step(idx, targets, 1e-3);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) loss = (await trainer.step(idx, targets, 1e-3)).loss;
  const dt = (performance.now() - t0) / steps / 1000;
  const wait = trainer.waitMode;
  await trainer.dispose();
  return { tokensPerSec: Math.round((B * T) / dt), msPerStep: +(dt * 1000).toFixed(2), loss: +loss.toFixed(4), wait };
}

function torch(preset: string): { tokens_per_s: number; ms_per_step: number } | null {
  const script = process.env.TORCH_BENCH ?? path.resolve(__dirname, 'torch_gpt_bench.py');
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0) return null;
  // Neither side busy-waits: onnxruntime runs with allow_spinning 0, and OpenMP's default spinning made the
  // peer 5x slower on a shared machine (OMP_WAIT_POLICY=PASSIVE gives it its best time there).
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const r = spawnSync('/usr/bin/python3', [script, preset, String(threads), String(steps)], { encoding: 'utf8', env });
  if (r.status !== 0) { console.error(`torch bench failed: ${r.stderr}`); return null; }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const result: Record<string, number> = {};
  for (const [preset, key] of [['toy', 'toy'], ['nanogpt-cpu', 'nanogptCpu']]) {
    // Both sides take turns, `rounds` times: the machine's speed drifts by 10-20% over a minute, and the
    // medians of interleaved runs see the same drift on both sides.
    const ourRuns: number[] = [], peerRuns: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const o = await ours(preset);
      ourRuns.push(o.tokensPerSec);
      const peer = torch(preset);
      if (peer) peerRuns.push(peer.tokens_per_s);
      const line = `${preset} round ${r + 1}: ${o.tokensPerSec} tokens/s (${o.msPerStep} ms/step, loss ${o.loss}, threads ${o.wait})` +
        (peer ? `; PyTorch ${peer.tokens_per_s} tokens/s (${peer.ms_per_step} ms/step)` : '');
      if (!json) console.log(line); else console.error(line);
    }
    result[key] = median(ourRuns);
    let line = `${preset}: ${result[key]} tokens/s (median of ${rounds})`;
    if (peerRuns.length === rounds) {
      result[`${key}Torch`] = median(peerRuns);
      result[`${key}Ratio`] = +(result[key] / result[`${key}Torch`]).toFixed(2);
      line += `; PyTorch ${result[`${key}Torch`]} tokens/s: ${result[`${key}Ratio`]}x`;
    }
    if (!json) console.log(line); else console.error(line);
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
