// Training speed: tokens/s of the ONNX trainer for the `toy` and `nanogpt-cpu` presets (2 threads, random
// data, vocab 65), and of the PyTorch peer when python3 has torch.
// usage: npm run bench:train -- [--json] [--steps N]     env TORCH_BENCH = path of torch_gpt_bench.py
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
const threads = 2;

async function ours(preset: string): Promise<{ tokensPerSec: number; msPerStep: number; loss: number }> {
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
  for (let i = 0; i < 12; i++) await trainer.step(idx, targets, 1e-3);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) loss = (await trainer.step(idx, targets, 1e-3)).loss;
  const dt = (performance.now() - t0) / steps / 1000;
  await trainer.dispose();
  return { tokensPerSec: Math.round((B * T) / dt), msPerStep: +(dt * 1000).toFixed(2), loss: +loss.toFixed(4) };
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

async function main() {
  const result: Record<string, number> = {};
  for (const [preset, key] of [['toy', 'toy'], ['nanogpt-cpu', 'nanogptCpu']]) {
    const o = await ours(preset);
    result[key] = o.tokensPerSec;
    const peer = torch(preset);
    let line = `${preset}: ${o.tokensPerSec} tokens/s (${o.msPerStep} ms/step, loss ${o.loss})`;
    if (peer) {
      const ratio = +(o.tokensPerSec / peer.tokens_per_s).toFixed(2);
      result[`${key}Torch`] = peer.tokens_per_s;
      result[`${key}Ratio`] = ratio;
      line += `; PyTorch ${peer.tokens_per_s} tokens/s (${peer.ms_per_step} ms/step): ${ratio}x`;
    }
    if (!json) console.log(line); else console.error(line);
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
