// token-lens explain: tokens, per-token loss, next-token candidates and attention, as text or JSON.
import * as fs from 'node:fs';
import type { Engine } from '../core/engines/engine';
import type { Analysis } from '../core/runtime/analysis';
import type { Candidate } from '../core/types';
import { candidatesAfter, scoresJson, tokenTable } from './tokenJson';
import { percent, perplexity } from '../core/numberFormat';
import { decodeText } from '../core/textBytes';
import { TOP_KEPT } from '../core/runtime/topRows';
import { UsageError, commonModelOptions, intOption, parse } from './args';
import { attentionLayersOption, layerRanges, writeJsonWithAttention } from './attentionJson';
import { loadModel } from './load';
import { lensJson, lensOptions, printLenses, runLenses } from './lenses';
import { maskPredictions, printMasks, refuseNextTokenLenses } from './masks';
import { explainWholeFile } from './wholeFile';
import type { ModelSession } from '../core/runtime/session';

const USAGE = `usage: token-lens explain [--model DIR|HUB_ID|FILE.gguf|ollama:NAME] [--fast] [--top-k K] [--attention [--attention-layers 0,3-5]] [--logit-lens] [--whole-file]
         [--attribution occlusion|gradient|integrated-gradients [--target TOKEN] [--contrast TOKEN] [--steps N]]
         [--json] (TEXT | --file FILE)
  TOKEN: a token id, or the token's text exactly as the candidates show it (leading space included)`;

export async function runExplain(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...commonModelOptions,
    'top-k': { type: 'string' },
    attention: { type: 'boolean' },
    'attention-layers': { type: 'string' },
    'logit-lens': { type: 'boolean' },
    attribution: { type: 'string' },
    target: { type: 'string' },
    contrast: { type: 'string' },
    steps: { type: 'string' },
    json: { type: 'boolean' },
    file: { type: 'string' },
    'whole-file': { type: 'boolean' },
  }, USAGE);
  const requestedTopK = intOption(values['top-k'], 'top-k', 10, 1);
  const text = readText(values.file, positionals);
  const lenses = lensOptions(values);
  if (values['attention-layers'] !== undefined) layerRanges(values['attention-layers']);
  const wholeFile = !!values['whole-file'];
  if (wholeFile && (values.attention || lenses.logitLens || lenses.attribution)) {
    throw new UsageError('--whole-file scores every token of a long text; it does not combine with --attention, --logit-lens or --attribution');
  }
  const session = await loadModel(values);
  try {
    // An engine without attention (llama.cpp, a server) says so once and leaves `attention` out.
    const asked = !!values.attention || values['attention-layers'] !== undefined;
    const attention = asked && !(session.kind !== 'onnx' && session.missing.attention);
    if (asked && !attention) process.stderr.write(`${session.missing.attention}: --attention is ignored.\n`);
    if (session.approximate) process.stderr.write(`${session.approximate}\n`);
    if (wholeFile) {
      if (session.kind !== 'onnx') throw new UsageError(`--whole-file needs the ONNX engine; ${session.ref} runs on ${session.kind}`);
      const topK = Math.min(requestedTopK, session.info.vocabSize);
      if (topK < requestedTopK) process.stderr.write(`--top-k ${requestedTopK} is more than the model's vocabulary: showing all ${topK} tokens.\n`);
      await explainWholeFile(session as ModelSession, text, topK, !!values.json, topK < requestedTopK ? { topKCapped: { requested: requestedTopK, used: topK } } : {});
      return 0;
    }
    // Up to the 100 kept per position, the candidates come from the graph: the full logits stay in the model.
    const analysis = await session.analyze(text, { attention, logits: requestedTopK > TOP_KEPT });
    // More candidates than the vocabulary has (or than a server returns) cannot be shown: say so rather than print fewer silently.
    const vocabulary = session.kind === 'remote' ? analysis.vocabSize : session.info.vocabSize;
    const topK = Math.min(requestedTopK, vocabulary);
    const capped = topK < requestedTopK ? { requested: requestedTopK, used: topK } : undefined;
    if (capped) {
      process.stderr.write(session.kind === 'remote'
        ? `--top-k ${requestedTopK}: the server returns at most ${topK} candidates per position; showing ${topK}.\n`
        : `--top-k ${requestedTopK} is more than the model's vocabulary: showing all ${topK} tokens.\n`);
    }
    refuseNextTokenLenses(session, lenses);
    const layers = attention ? attentionLayersOption(values['attention-layers'], session.info.layers) : [];
    const write = async (fields: Record<string, unknown>) => {
      if (analysis.attention) await writeJsonWithAttention(process.stdout, fields, analysis, layers);
      else process.stdout.write(`${JSON.stringify(fields)}\n`);
    };
    if (session.info.objective === 'masked') {
      // A masked model has no next token: it answers at each mask, and scores every token by masking it.
      const masks = maskPredictions(session, analysis, Math.min(topK, TOP_KEPT));
      const { next: _, ...json } = toJson(session, analysis, [], attention);
      if (values.json) await write({ ...json, objective: 'masked', maskToken: session.info.maskToken, masks });
      else {
        printTable(session, analysis, null);
        printMasks(session, masks);
      }
      return 0;
    }
    const next = await candidatesAfter(analysis, analysis.tokens.length - 1, topK);
    const extra = await runLenses(session, text, topK, lenses);
    if (values.json) {
      await write({ ...toJson(session, analysis, next, attention), ...(capped ? { topKCapped: capped } : {}), ...lensJson(extra) });
    } else {
      printTable(session, analysis, next);
      printLenses(analysis, extra);
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
    const text = decodeText(fs.readFileSync(file), file);
    if (!text.length) throw new UsageError(`${file} is empty: nothing to explain.`);
    return text;
  }
  if (positionals.length !== 1) throw new UsageError(`give exactly one TEXT argument (quote it)\n\n${USAGE}`);
  if (!positionals[0].length) throw new UsageError('the text is empty: nothing to explain.');
  return positionals[0];
}

export function toJson(session: Pick<Engine, 'ref'>, a: Analysis, next: Candidate[], attention: boolean) {
  return {
    ...scoresJson(session.ref, a, next),
    ...(a.window.truncated ? { window: a.window } : {}),
    // The weights themselves are streamed in this place (attentionJson.ts).
    ...(attention ? { attention: a.attention ? null : { layers: 0, heads: 0, weights: [], note: a.attentionNote } } : {}),
  };
}

function printTable(session: Pick<Engine, 'ref'>, a: Analysis, next: ReturnType<Analysis['topK']> | null): void {
  const out: string[] = [`model ${session.ref}`];
  if (a.window.truncated) {
    out.push(`the text has ${a.window.counted ? '' : 'about '}${a.window.totalTokens} tokens; analysed the last window, from offset ${a.window.start}`);
  }
  out.push(...tokenTable(a.tokens));
  const pseudo = a.objective === 'masked' ? 'pseudo-' : '';
  out.push(`mean ${pseudo}loss ${a.meanLoss.toFixed(4)} nats, ${pseudo}perplexity ${perplexity(a.perplexity)}`);
  if (next) out.push('next token:');
  for (const c of next ?? []) out.push(`  ${percent(c.prob).padStart(7)}  logit ${c.logit.toFixed(3).padStart(8)}  ${JSON.stringify(c.text)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
