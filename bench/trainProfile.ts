// Where a training step's time goes inside onnxruntime: its profiler's kernel times per op type, and the
// matrix products' rate against onnxruntime's own MatMul rate on this machine (README, "Training speed").
// usage: npm run bench:train-profile -- [--preset toy|nanogpt-cpu] [--runs N] [--block]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { presetConfig, TRAINING_PRESETS } from '../src/core/trainer/presets';
import { buildModelGraph } from '../src/core/trainer/model';
import { GraphSession } from '../src/core/trainer/graphSession';
import { randomWeights } from '../src/core/models/random';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const preset = arg('--preset', 'nanogpt-cpu');
const runs = Number(arg('--runs', '20'));
const MATMULS = new Set(['MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm']);

interface KernelEvent { cat: string; name: string; dur: number; args: { op_name?: string;
  input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] } }

const size = (s: Record<string, number[]> | undefined) => Object.values(s ?? {})[0]?.reduce((a, b) => a * b, 1) ?? 0;

/** Multiply-adds of a product from its operand sizes: [b,M,K] x [b,K,N] -> [b,M,N] has b*M*N*K. */
function macs(e: KernelEvent): number {
  const [a, b] = e.args.input_type_shape ?? [], out = Object.values(e.args.output_type_shape?.[0] ?? {})[0] ?? [];
  const mn = out.length >= 2 ? out[out.length - 1] * out[out.length - 2] : 1;
  const batch = size(e.args.output_type_shape?.[0]) / mn;
  return Math.sqrt((size(a) * size(b) * size(e.args.output_type_shape?.[0])) / batch);
}

async function main() {
  const config = presetConfig(preset, 65);
  const { batch_size: B, block_size: T } = TRAINING_PRESETS[preset];
  const g = buildModelGraph({ config, batch: B, block: T, grads: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-profile-'));
  // As a training run on an idle machine has it: threads that spin between kernels (graphSession.ts), unless --block.
  const session = await GraphSession.create(g.tape, 2, { profile: path.join(dir, 'step'), reuseGradients: true, spin: args.includes('--block') ? undefined : 'always' });
  const weights = new Map([...randomWeights(config, 0)].map(([k, v]) => [k, v.data]));
  const idx = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7) % 65));
  const targets = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 11) % 65));
  for (let i = 0; i < 3; i++) await session.run(weights, { idx, targets });
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(weights, { idx, targets });
  const wallMs = (performance.now() - t0) / runs;
  session.endProfiling();
  await session.dispose();
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'))!;
  const events: KernelEvent[] = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.rmSync(dir, { recursive: true });
  // The last `runs` runs only: the warm-up runs are in the profile too.
  const runEvents = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const from = runEvents[runEvents.length - runs];
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && from && (e as any).ts >= (from as any).ts);
  const byOp = new Map<string, { ms: number; count: number }>();
  let kernelMs = 0, matmulMs = 0, matmulMacs = 0;
  for (const e of kernels) {
    const op = e.args.op_name ?? '?';
    const r = byOp.get(op) ?? { ms: 0, count: 0 };
    r.ms += e.dur / 1000 / runs;
    r.count += 1 / runs;
    byOp.set(op, r);
    kernelMs += e.dur / 1000 / runs;
    if (MATMULS.has(op)) { matmulMs += e.dur / 1000 / runs; matmulMacs += macs(e) / runs; }
  }
  const runMs = runEvents.slice(-runs).reduce((s, e) => s + e.dur / 1000, 0) / runs;
  console.log(`${preset}: ${wallMs.toFixed(1)} ms per run from JS, ${runMs.toFixed(1)} ms inside onnxruntime, ` +
    `${kernelMs.toFixed(1)} ms in ${Math.round([...byOp.values()].reduce((s, r) => s + r.count, 0))} kernels`);
  console.log(`matrix products: ${matmulMs.toFixed(1)} ms for ${(2 * matmulMacs / 1e9).toFixed(3)} GFLOP = ` +
    `${(2 * matmulMacs / 1e6 / matmulMs).toFixed(1)} GFLOP/s`);
  for (const [op, r] of [...byOp].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${op.padEnd(22)} ${r.ms.toFixed(2).padStart(7)} ms  ${Math.round(r.count)} nodes`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
