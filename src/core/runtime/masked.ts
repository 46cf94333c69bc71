// Masked language models (BERT, DistilBERT, RoBERTa) score a text by filling in blanks. Their logits at
// position t are the model's guess for the token AT t, and a token is only a blank once it is masked:
// the pseudo-log-likelihood (Salazar et al., 2020) masks each token in turn and reads
// log p(token | every other token). Every masked copy of the text is one row of one batched pass.
//
// What an analysis keeps is then one [T, V] matrix whose row t is the distribution at position t with
// that token masked; at a [MASK] the text already has, and at [CLS]/[SEP], it is the unmasked pass's row.
import { tokenIdOf } from '../models/folder';
import { type AttentionLayer, attentionLayer } from './attentionLayer';
import type { RawTensor } from './forward';

/** Hugging Face model types that are masked language models (what transformers.js loads with AutoModelForMaskedLM). */
export const MASKED_MODEL_TYPES = new Set(['bert', 'distilbert', 'roberta', 'xlm-roberta', 'camembert', 'albert',
  'electra', 'mpnet', 'deberta', 'deberta-v2', 'modernbert']);

export function isMaskedModel(config: Record<string, any>): boolean {
  return config.token_lens?.objective === 'masked' || MASKED_MODEL_TYPES.has(config.model_type);
}

/** RoBERTa and its kin number positions from padding_idx + 1: their tables' first rows are never a position. */
const OFFSET_POSITIONS = new Set(['roberta', 'xlm-roberta', 'camembert']);

/** Rows of a model's position table before position 0 (0 for all but RoBERTa's family). */
export function positionOffset(config: Record<string, any>): number {
  if (!OFFSET_POSITIONS.has(config.model_type)) return 0;
  return (typeof config.pad_token_id === 'number' ? config.pad_token_id : 1) + 1;
}

/** The mask token of a tokenizer: tokenizer_config's, or the usual spellings. */
export function maskTokenOf(tokenizer: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): { id: number; text: string } | undefined {
  for (const t of [tokenizerConfig.mask_token, '[MASK]', '<mask>']) {
    const id = tokenIdOf(tokenizer, t);
    const text = typeof t === 'string' ? t : (t as { content?: string } | null)?.content;
    if (id !== undefined && text) return { id, text };
  }
  return undefined;
}

/** A pass's logits of all rows, with at most this many bytes per pass: longer texts are split into passes. */
export const MAX_PASS_BYTES = 256 * 2 ** 20;

export interface MaskedScores {
  /** Row-major [T, V]: row t is the distribution at position t, token t masked when it is scored. */
  logits: Float32Array;
  vocabSize: number;
  /** scored[t]: token t was masked in its own row and has a pseudo-log-likelihood. */
  scored: boolean[];
  /** Each layer's attention of the text as given, [heads, T, T]; null unless asked for. */
  attentions: Float32Array[] | null;
  heads: number;
  /** How many batched passes the rows took (1 unless the text is long). */
  passes: number;
}

export interface MaskedRun {
  /** One batched pass: rows of equal length in, the named outputs out. */
  run: (rows: number[][], outputs: string[]) => Promise<Record<string, RawTensor>>;
  /** Called before each pass after the first: throws to stop (the caller gave up). */
  beforePass?: () => void;
  /** At most this many bytes of logits per pass (default MAX_PASS_BYTES). */
  maxPassBytes?: number;
}

/** The text as given (row 0) and one copy per scored token with that token masked, as batched passes. */
export async function maskedScores(ids: number[], maskId: number, vocabSize: number, special: (id: number) => boolean,
  attentionNames: string[] | null, { run, beforePass, maxPassBytes = MAX_PASS_BYTES }: MaskedRun): Promise<MaskedScores> {
  const T = ids.length, V = vocabSize;
  const scored = ids.map((id) => id !== maskId && !special(id));
  const positions = scored.flatMap((s, t) => (s ? [t] : []));
  const rows = [ids, ...positions.map((p) => ids.map((id, t) => (t === p ? maskId : id)))];
  const perPass = Math.max(1, Math.floor(maxPassBytes / (T * V * 4)));
  const logits = new Float32Array(T * V);
  let attentions: Float32Array[] | null = null;
  let heads = 0;
  let passes = 0;
  for (let first = 0; first < rows.length; first += perPass) {
    if (first > 0) beforePass?.();
    const batch = rows.slice(first, first + perPass);
    // Attention is read from the text as given (row 0) only.
    const wanted = first === 0 && attentionNames ? attentionNames : [];
    const out = await run(batch, ['logits', ...wanted]);
    passes++;
    const l = out.logits;
    if (l.dims.join() !== [batch.length, T, V].join()) throw new Error(`Unexpected logits shape [${l.dims}], expected [${batch.length}, ${T}, ${V}]`);
    if (first === 0) {
      // The text as given: the rows of positions that are not scored (specials, the text's own masks).
      for (let t = 0; t < T; t++) if (!scored[t]) logits.set(l.data.subarray(t * V, (t + 1) * V), t * V);
      if (attentionNames) {
        attentions = wanted.map((name) => {
          heads = out[name].dims[1];
          return out[name].data.slice(0, heads * T * T);
        });
      }
    }
    batch.forEach((_, b) => {
      if (first + b === 0) return;
      const p = positions[first + b - 1];
      const at = (b * T + p) * V;
      logits.set(l.data.subarray(at, at + V), p * V);
    });
  }
  return { logits, vocabSize: V, scored, attentions, heads, passes };
}

/**
 * A layer's attention of the text as given, shaped as the views use it; undefined when not fetched. A
 * batched pass returns it as [heads, T, T]: a causal pass's worker shapes its own layers.
 */
export function maskedAttentionLayer(scores: MaskedScores, layer: number, T: number): AttentionLayer | undefined {
  const data = scores.attentions?.[layer];
  return data ? attentionLayer(data, scores.heads, T) : undefined;
}
