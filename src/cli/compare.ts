// token-lens compare: one text, two models. Per token the loss under each, KL(A‖B) and top-1 agreement;
// with two tokenizers, bits per character on pieces lined up by character offsets.
import * as fs from 'node:fs';
import { compareModels, type Comparison } from '../core/lenses/compare';
import { largestMoves } from '../core/lenses/compareMaths';
import type { Engine } from '../core/engines/engine';
import { decodeText } from '../core/textBytes';
import { UsageError, parse } from './args';
import { loadModel } from './load';

const USAGE = `usage: token-lens compare --model A --model B [--dtype-a D] [--dtype-b D] [--json] (TEXT | --file FILE)
  A, B: model folders or Hub ids; DIR@q8 (or @fp32, @fp16, @q4) picks a variant of a folder.
  --json prints {"models","sameTokenizer","tokens":[{"start","end","text","lossA","lossB","kl","top1Same"}],
  "meanLossA","meanLossB","meanKl","top1Agreement"}; losses in nats per token, or in bits per character
  when the tokenizers differ (then kl and top1Same are null).`;

export async function runCompare(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    model: { type: 'string', multiple: true }, 'cache-dir': { type: 'string' }, offline: { type: 'boolean' },
    'hub-host': { type: 'string' }, 'dtype-a': { type: 'string' }, 'dtype-b': { type: 'string' },
    json: { type: 'boolean' }, file: { type: 'string' },
  }, USAGE);
  const refs = values.model ?? [];
  if (refs.length !== 2) throw new UsageError(`give --model twice (A, then B); got ${refs.length}\n\n${USAGE}`);
  const text = readText(values.file, positionals);
  const common = { 'cache-dir': values['cache-dir'], offline: values.offline, 'hub-host': values['hub-host'] };
  const sessions: Engine[] = [];
  try {
    sessions.push(await loadModel({ ...common, model: refs[0], dtype: values['dtype-a'] }));
    sessions.push(await loadModel({ ...common, model: refs[1], dtype: values['dtype-b'] }));
    const result = await compareModels(sessions[0], sessions[1], text, { names: [refs[0], refs[1]] });
    process.stdout.write(values.json ? `${JSON.stringify(toJson(result))}\n` : printable(result, sessions));
  } finally {
    for (const s of sessions) await s.dispose();
  }
  return 0;
}

function readText(file: string | undefined, positionals: string[]): string {
  if (file !== undefined && positionals.length) throw new UsageError(`give either TEXT or --file, not both\n\n${USAGE}`);
  let text: string;
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
    text = decodeText(fs.readFileSync(file), file);
  } else {
    if (positionals.length !== 1) throw new UsageError(`give exactly one TEXT argument (quote it)\n\n${USAGE}`);
    text = positionals[0];
  }
  if (!text.trim().length) throw new UsageError(`the text is empty: nothing to compare.`);
  return text;
}

/** Exactly the documented keys: ranks and units are for the table. */
export function toJson(c: Comparison) {
  return {
    models: c.models,
    sameTokenizer: c.sameTokenizer,
    tokens: c.tokens.map((t) => ({ start: t.start, end: t.end, text: t.text, lossA: t.lossA, lossB: t.lossB, kl: t.kl, top1Same: t.top1Same })),
    meanLossA: c.meanLossA,
    meanLossB: c.meanLossB,
    meanKl: c.meanKl,
    top1Agreement: c.top1Agreement,
  };
}

const num = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));
const signed = (x: number | null) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

function printable(c: Comparison, sessions: Engine[]): string {
  const variant = (e: Engine) => ('variant' in e ? String(e.variant) : e.kind);
  const out = [`A ${c.models[0]} (${variant(sessions[0])})`, `B ${c.models[1]} (${variant(sessions[1])})`];
  out.push(c.sameTokenizer
    ? 'same tokenizer: loss per token in nats, KL(A‖B) of the next-token distributions in nats'
    : 'different tokenizers: pieces lined up on character offsets, loss in bits per character (no KL, no top-1)');
  out.push(`  ${'token'.padEnd(20)}  ${'lossA'.padStart(7)}  ${'lossB'.padStart(7)}  ${'Δ'.padStart(7)}` +
    (c.sameTokenizer ? `  ${'KL'.padStart(7)}  top1  rank A→B` : ''));
  for (const t of c.tokens) {
    const d = t.lossA !== null && t.lossB !== null ? t.lossB - t.lossA : null;
    let line = `  ${JSON.stringify(t.text).padEnd(20).slice(0, 20)}  ${num(t.lossA).padStart(7)}  ${num(t.lossB).padStart(7)}  ${signed(d).padStart(7)}`;
    if (c.sameTokenizer) line += `  ${num(t.kl, 4).padStart(7)}  ${t.top1Same === null ? ' -  ' : t.top1Same ? 'same' : 'DIFF'}  ${t.rankA ?? '-'}→${t.rankB ?? '-'}`;
    out.push(line);
  }
  const unit = c.sameTokenizer ? 'nats/token' : 'bits/char';
  out.push(`mean loss A ${c.meanLossA.toFixed(4)}, B ${c.meanLossB.toFixed(4)} ${unit}; mean Δloss ${signed(c.meanLossB - c.meanLossA)}`);
  if (c.sameTokenizer) out.push(`mean KL(A‖B) ${c.meanKl!.toFixed(5)} nats; top-1 agreement ${(100 * c.top1Agreement!).toFixed(1)}%`);
  const deltas = c.tokens.map((t) => (t.lossA !== null && t.lossB !== null ? t.lossB - t.lossA : null));
  const moved = largestMoves(deltas, 5).map((i) => {
    const t = c.tokens[i];
    const rank = c.sameTokenizer ? `, rank ${t.rankA}→${t.rankB}` : '';
    return `${JSON.stringify(t.text)} ${signed(deltas[i])}${rank}`;
  });
  if (moved.length) out.push(`moved most: ${moved.join('; ')}`);
  return `${out.join('\n')}\n`;
}
