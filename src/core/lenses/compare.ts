// The compare lens: one text, two models (full precision and quantized, base and fine-tuned, any two).
// With one tokenizer the two models predict the same tokens from the same vocabulary, so each position
// compares directly: the loss of the actual token under A and under B, KL(A‖B) of the whole next-token
// distributions, whether their top-1 agree, and how the actual token's rank moved. With two tokenizers
// positions do not correspond: the text is cut where both have a token boundary and each model's loss is
// summed per piece, in bits per character, the one unit both share (KL and top-1 have no meaning there).
import type { Analysis } from '../runtime/analysis';
import { AnalysisCancelled, AnalysisError } from '../runtime/session';
import type { Engine } from '../engines/engine';
import { alignOnOffsets, klDivergence } from './compareMaths';

export interface ComparedToken {
  start: number;
  end: number;
  text: string;
  /** nats per token with one tokenizer; bits per character with two. Null where nothing predicted it. */
  lossA: number | null;
  lossB: number | null;
  /** KL(A‖B) in nats of the distributions that predicted this token; null with two tokenizers. */
  kl: number | null;
  top1Same: boolean | null;
  /** Rank of the actual token under A and B (1 = top guess); null with two tokenizers. */
  rankA: number | null;
  rankB: number | null;
}

export interface Comparison {
  models: [string, string];
  sameTokenizer: boolean;
  /** 'nats/token' with one tokenizer, 'bits/char' with two. */
  unit: 'nats/token' | 'bits/char';
  tokens: ComparedToken[];
  meanLossA: number;
  meanLossB: number;
  meanKl: number | null;
  /** Share (0..1) of positions where the two top-1 predictions agree; null with two tokenizers. */
  top1Agreement: number | null;
}

/** Whether two models share a vocabulary: the same size and the same text for every id. */
export function sameVocabulary(a: Engine, b: Engine): boolean {
  if (a.info.vocabSize !== b.info.vocabSize) return false;
  for (let id = 0; id < a.info.vocabSize; id++) if (a.tokenText(id) !== b.tokenText(id)) return false;
  return true;
}

export async function compareModels(a: Engine, b: Engine, text: string,
  opts: { signal?: AbortSignal; names?: [string, string] } = {}): Promise<Comparison> {
  if (text.trim().length === 0) throw new AnalysisError('Nothing to compare: the text is empty.');
  const [ra, rb] = [await a.analyze(text, { signal: opts.signal }), await b.analyze(text, { signal: opts.signal })];
  const models: [string, string] = opts.names ?? [a.ref, b.ref];
  const aligned = sameVocabulary(a, b) && sameTokens(ra, rb);
  return aligned ? await comparePositions(ra, rb, models, opts.signal) : compareCharacters(ra, rb, text, models);
}

function sameTokens(a: Analysis, b: Analysis): boolean {
  return a.tokens.length === b.tokens.length &&
    a.tokens.every((t, i) => t.id === b.tokens[i].id && t.start === b.tokens[i].start && t.end === b.tokens[i].end);
}

async function comparePositions(a: Analysis, b: Analysis, models: [string, string], signal?: AbortSignal): Promise<Comparison> {
  const tokens: ComparedToken[] = [];
  for (let t = 0; t < a.tokens.length; t++) {
    const ta = a.tokens[t], tb = b.tokens[t];
    if (ta.special) continue;
    if (signal?.aborted) throw new AnalysisCancelled();
    const scored = t > 0 && ta.loss !== null && tb.loss !== null;
    tokens.push({
      start: ta.start, end: ta.end, text: ta.text,
      lossA: ta.loss, lossB: tb.loss,
      kl: scored ? klDivergence(await a.row(t - 1), await b.row(t - 1)) : null,
      top1Same: scored ? a.topK(t - 1, 1)[0].id === b.topK(t - 1, 1)[0].id : null,
      rankA: ta.rank, rankB: tb.rank,
    });
  }
  const scored = tokens.filter((t) => t.kl !== null);
  if (!scored.length) throw new AnalysisError('Nothing to compare: the text has only one token, which nothing predicts.');
  return {
    models, sameTokenizer: true, unit: 'nats/token', tokens,
    meanLossA: mean(scored.map((t) => t.lossA!)),
    meanLossB: mean(scored.map((t) => t.lossB!)),
    meanKl: mean(scored.map((t) => t.kl!)),
    top1Agreement: scored.filter((t) => t.top1Same).length / scored.length,
  };
}

function compareCharacters(a: Analysis, b: Analysis, text: string, models: [string, string]): Comparison {
  const segments = alignOnOffsets(a.tokens, b.tokens);
  let bitsA = 0, bitsB = 0, chars = 0;
  const tokens: ComparedToken[] = segments.map((s) => {
    const n = s.end - s.start;
    if (s.lossA !== null && s.lossB !== null) {
      bitsA += s.lossA / Math.LN2;
      bitsB += s.lossB / Math.LN2;
      chars += n;
    }
    return {
      start: s.start, end: s.end, text: text.slice(s.start, s.end),
      lossA: s.lossA === null ? null : s.lossA / Math.LN2 / n,
      lossB: s.lossB === null ? null : s.lossB / Math.LN2 / n,
      kl: null, top1Same: null, rankA: null, rankB: null,
    };
  });
  if (!chars) throw new AnalysisError('Nothing to compare: no stretch of the text is scored by both models.');
  return { models, sameTokenizer: false, unit: 'bits/char', tokens, meanLossA: bitsA / chars, meanLossB: bitsB / chars, meanKl: null, top1Agreement: null };
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
