// npm run bench:lenses [-- --json]: how long a lens blocks its caller's thread (the extension host's, in the editor),
// against the same work run on that thread, in the same process. A 64-token text on a GPT-2-small-shaped model
// (random weights, the real GPT-2 tokenizer); the longest event-loop stall while the lens runs, in ms.
// igStallMs / igInlineStallMs: integrated gradients (16 steps) through attribute() (its graphs run in the lens
//   worker) against gradientScores() called on this thread; igStallRatio = the first over the second.
// lensStallMs / lensInlineStallMs, lensStallRatio: the same for the logit lens's head.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MODEL_PRESETS } from '../src/core/models/presets';
import { randomWeights } from '../src/core/models/random';
import { writeModelFolder } from '../src/core/models/folder';
import { gpt2TokenizerFiles } from '../src/core/tokenizers/gpt2';
import { ModelSession } from '../src/core/runtime/session';
import { attribute } from '../src/core/lenses/attribution';
import { gradientScores } from '../src/core/lenses/gradientScores';
import { logitLens } from '../src/core/lenses/logitLens';
import { decodeHidden } from '../src/core/lenses/logitLensHead';
import { readProjectModel } from '../src/core/lenses/projectModel';

const json = process.argv.includes('--json');
const root = path.resolve(__dirname, '..');
const folder = path.join(root, '.cache', 'bench', 'gpt2-small-random');
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
const TEXT = Array.from({ length: 8 }, () => 'Once upon a time, there was a little girl named').join(' ');

/** The longest stall of this thread's event loop while `work` runs, in ms. */
async function stall(work: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // A timer keeps the loop turning, so a blocked stretch shows as one long delay.
  const tick = setInterval(() => undefined, 5);
  try {
    await work();
  } finally {
    clearInterval(tick);
    h.disable();
  }
  return h.max / 1e6;
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(folder, 'onnx', 'model.onnx'))) {
    log(`writing ${folder}`);
    const config = structuredClone(MODEL_PRESETS['gpt2-small']);
    await writeModelFolder(folder, { config, weights: randomWeights(config, 1), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  }
  const session = await ModelSession.load(folder, { offline: true, cacheDir: path.join(root, '.cache', 'bench', 'prepared') });
  try {
    const analysis = await session.analyze(TEXT);
    const ids = analysis.tokens.map((t) => t.id);
    const objective = { target: analysis.topK(ids.length - 1, 1)[0].id, contrast: null };
    // Warm both paths (the worker reads the model once; this thread reads it here).
    await attribute(session, TEXT, { method: 'integrated-gradients', steps: 2 });
    const model = readProjectModel(session.folder);
    const igStallMs = await stall(() => attribute(session, TEXT, { method: 'integrated-gradients', steps: 16 }));
    const igInlineStallMs = await stall(() => gradientScores(model, ids, objective, 'integrated-gradients', 16));
    await logitLens(session, TEXT, 10);
    const names = session.hiddenStateNames;
    const out = await session.run([ids], names);
    const C = model.config.n_embd;
    const hidden = () => {
      const h = new Float32Array(names.length * ids.length * C);
      names.forEach((n, l) => h.set(out[n].data as Float32Array, l * ids.length * C));
      return h;
    };
    const lensStallMs = await stall(() => logitLens(session, TEXT, 10));
    const lensInlineStallMs = await stall(() => decodeHidden({ model }, hidden(), names.length * ids.length, C, model.config.vocab_size, 10));
    const r = {
      tokens: ids.length, igStallMs, igInlineStallMs, igStallRatio: igStallMs / igInlineStallMs,
      lensStallMs, lensInlineStallMs, lensStallRatio: lensStallMs / lensInlineStallMs,
    };
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else for (const [k, v] of Object.entries(r)) log(`${k.padEnd(18)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v}`);
  } finally {
    await session.dispose();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
