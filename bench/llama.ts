// The llama.cpp engine's cost of scoring a text against llama.cpp itself, in the same process, interleaved.
// stories260K (exported to GGUF by export-gguf) on 512 tokens of English:
// llamaScoreMs:  LlamaEngine.analyze (tokenize, one batched evaluation: per position the log-probability of
//                the next token, its exact rank and the best 100 candidates)
// llamaDecodeMs: node-llama-cpp's own per-position reading of the same batch (`controlledEvaluate`), the
//                log-probability of the next token and nothing else (what llama.cpp's perplexity tool computes)
// llamaBareDecodeMs: the batch decoded once with the last position's logits only (a prompt's prefill)
// llamaBareRatio = llamaScoreMs / llamaBareDecodeMs (goal <= 1.5: scoring against llama.cpp's single decode);
// llamaRatio = llamaScoreMs / llamaDecodeMs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ControlledEvaluateInputItem } from 'node-llama-cpp';
import { exportGguf } from '../src/core/gguf/exportGguf';
import { LlamaEngine } from '../src/core/engines/llama/llamaEngine';

export interface LlamaBench {
  llamaScoreMs: number;
  llamaDecodeMs: number;
  llamaBareDecodeMs: number;
  llamaRatio: number;
  llamaBareRatio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function benchLlama(root: string, cacheDir: string, story: string, rounds: number): Promise<LlamaBench> {
  const file = path.join(cacheDir, 'stories260K.gguf');
  const source = path.join(root, 'dist', 'models', 'stories260K');
  if (!fs.existsSync(path.join(source, 'config.json'))) throw new Error('dist/models/stories260K is missing: run `npm run build`');
  await exportGguf(source, file);
  const engine = await LlamaEngine.load(file, file);
  try {
    let text = story.repeat(8);
    const tokens = engine.tokenize(text);
    text = text.slice(0, tokens[511].end);
    const ids = engine.encode(text);
    if (ids.length !== 512) throw new Error(`expected 512 tokens, got ${ids.length}`);
    // The engine's own context and sequence, so both sides run on the same llama.cpp state.
    const sequence = (engine as unknown as { sequence: import('node-llama-cpp').LlamaContextSequence }).sequence;
    const decode = async () => {
      await sequence.clearHistory();
      await sequence.controlledEvaluate(ids.map((id, i) => [id, { generateNext: {
        totalLogitWeight: true, logits: { filter: { tokens: i + 1 < ids.length ? [ids[i + 1]] : [] } } } }]) as unknown as ControlledEvaluateInputItem[]);
    };
    const bare = async () => {
      await sequence.clearHistory();
      await sequence.controlledEvaluate(ids.map((id, i) => (i + 1 < ids.length ? id : [id, { generateNext: { totalLogitWeight: true } }])) as unknown as ControlledEvaluateInputItem[]);
    };
    const score = () => engine.analyze(text, { fresh: true });
    const time = async (f: () => Promise<unknown>) => { const t0 = performance.now(); await f(); return performance.now() - t0; };
    await decode(); await bare(); await score();
    const s = { score: [] as number[], decode: [] as number[], bare: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      s.decode.push(await time(decode));
      s.score.push(await time(score));
      s.bare.push(await time(bare));
    }
    const scoreMs = median(s.score);
    return {
      llamaScoreMs: round(scoreMs),
      llamaDecodeMs: round(median(s.decode)),
      llamaBareDecodeMs: round(median(s.bare)),
      llamaRatio: round(scoreMs / median(s.decode), 3),
      llamaBareRatio: round(scoreMs / median(s.bare), 3),
    };
  } finally {
    await engine.dispose();
  }
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const dir = path.join(root, '.cache', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const story = 'The old lighthouse keeper climbed the spiral stairs every evening, counting each step out loud ' +
    'so the silence would not swallow him. At the top he wiped the great lens with a soft cloth, lit the lamp, ' +
    'and watched the beam sweep across the restless water. Ships he would never meet passed safely in the dark. ';
  benchLlama(root, dir, story, Number(process.env.BENCH_ROUNDS ?? 11)).then((r) => console.log(JSON.stringify(r)));
}
