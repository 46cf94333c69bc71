// token-lens explain: tokens, per-token loss, next-token candidates and attention, as text or JSON.
import * as fs from 'node:fs';
import { ModelSession } from '../core/runtime/session';
import type { Analysis } from '../core/runtime/analysis';
import { UsageError, commonModelOptions, intOption, parse } from './args';
import { loadModel } from './load';

const USAGE = `usage: token-lens explain --model DIR|HUB_ID [--top-k K] [--attention] [--json] (TEXT | --file FILE)`;

export async function runExplain(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...commonModelOptions,
    'top-k': { type: 'string' },
    attention: { type: 'boolean' },
    json: { type: 'boolean' },
    file: { type: 'string' },
  }, USAGE);
  const topK = intOption(values['top-k'], 'top-k', 10, 1);
  const text = readText(values.file, positionals);
  const session = await loadModel(values);
  try {
    const analysis = await session.analyze(text, { attention: values.attention });
    const last = analysis.tokens.length - 1;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(toJson(session, analysis, topK, !!values.attention))}\n`);
    } else {
      printTable(session, analysis, analysis.topK(last, topK));
    }
  } finally {
    await session.dispose();
  }
  return 0;
}

function readText(file: string | undefined, positionals: string[]): string {
  if (file !== undefined && positionals.length) throw new UsageError(`give either TEXT or --file, not both\n\n${USAGE}`);
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const bytes = fs.readFileSync(file);
    if (bytes.includes(0)) throw new UsageError(`${file} looks like a binary file (it contains NUL bytes).`);
    const text = bytes.toString('utf8');
    if (!text.length) throw new UsageError(`${file} is empty: nothing to explain.`);
    return text;
  }
  if (positionals.length !== 1) throw new UsageError(`give exactly one TEXT argument (quote it)\n\n${USAGE}`);
  if (!positionals[0].length) throw new UsageError('the text is empty: nothing to explain.');
  return positionals[0];
}

export function toJson(session: ModelSession, a: Analysis, topK: number, attention: boolean) {
  return {
    model: session.ref,
    tokens: a.tokens.map((t) => ({ id: t.id, text: t.text, start: t.start, end: t.end, prob: t.prob, rank: t.rank, loss: t.loss })),
    meanLoss: a.meanLoss,
    perplexity: a.perplexity,
    next: a.topK(a.tokens.length - 1, topK),
    ...(a.window.truncated ? { window: a.window } : {}),
    ...(attention ? {
      attention: a.attention
        ? { layers: a.attention.layers, heads: a.attention.heads, weights: a.attention.weights.map((l) => l.map((h) => rows(h, a.attention!.size))) }
        : { layers: 0, heads: 0, weights: [], note: a.attentionNote },
    } : {}),
  };
}

function rows(m: Float32Array, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(m.subarray(i * n, (i + 1) * n)));
}

function printTable(session: ModelSession, a: Analysis, next: ReturnType<Analysis['topK']>): void {
  const out: string[] = [`model ${session.ref}`];
  if (a.window.truncated) {
    out.push(`the text has ${a.window.counted ? '' : 'about '}${a.window.totalTokens} tokens; analysed the last window, from offset ${a.window.start}`);
  }
  out.push('  pos  token                 prob      rank   loss');
  a.tokens.forEach((t, i) => {
    const p = t.prob === null ? '     -' : t.prob.toFixed(4);
    const r = t.rank === null ? '     -' : String(t.rank).padStart(6);
    const l = t.loss === null ? '     -' : t.loss.toFixed(3);
    out.push(`${String(i).padStart(5)}  ${JSON.stringify(t.text).padEnd(20).slice(0, 20)}  ${p}  ${r}  ${l}`);
  });
  out.push(`mean loss ${a.meanLoss.toFixed(4)} nats, perplexity ${a.perplexity.toFixed(2)}`);
  out.push('next token:');
  for (const c of next) out.push(`  ${(c.prob * 100).toFixed(2).padStart(6)}%  logit ${c.logit.toFixed(3).padStart(8)}  ${JSON.stringify(c.text)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
