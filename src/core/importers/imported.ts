// What an importer produces, whatever the checkpoint: the one decoder config, its weights under the
// canonical names, the tokenizer files, and a short description for the model folder's README.
import type { DecoderConfig, Weights } from '../models/config';
import type { SpecialTokens } from '../models/folder';
import type { TokenizerFiles } from '../tokenizers/types';

export interface ImportedModel {
  config: DecoderConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
  specialTokens?: SpecialTokens;
  description: string;
}

/** How many ids a tokenizer.json can produce (its vocabulary and added tokens). */
export function tokenizerIdCount(tokenizerJson: Record<string, unknown>): number {
  const model = tokenizerJson.model as { vocab?: Record<string, number> | [string, number][] } | undefined;
  let max = -1;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1;
  else if (vocab) for (const id of Object.values(vocab)) max = Math.max(max, id);
  for (const t of (tokenizerJson.added_tokens ?? []) as { id: number }[]) max = Math.max(max, t.id);
  return max + 1;
}

/** A tokenizer whose ids the model cannot embed would fail later, mid-analysis: refuse it now. */
export function checkTokenizerFits(tokenizer: TokenizerFiles, config: DecoderConfig, what: string): void {
  const n = tokenizerIdCount(tokenizer.tokenizer);
  if (n > config.vocab_size) {
    throw new Error(`The tokenizer (${what}) has ${n} tokens but the model's vocabulary has ${config.vocab_size}: they do not belong together.`);
  }
}

/** tokenizer_config.json with the context length as the longest input. */
export function withMaxLength(tokenizer: TokenizerFiles, blockSize: number): TokenizerFiles {
  const cur = Number(tokenizer.tokenizerConfig.model_max_length);
  const model_max_length = Number.isFinite(cur) && cur > 0 ? Math.min(cur, blockSize) : blockSize;
  return { tokenizer: tokenizer.tokenizer, tokenizerConfig: { ...tokenizer.tokenizerConfig, model_max_length } };
}

export function describe(title: string, source: string, c: DecoderConfig): string {
  const attn = c.n_kv_head === c.n_head ? `${c.n_head} heads` : `${c.n_head} heads (${c.n_kv_head} key/value)`;
  return [
    `# ${title}`,
    '',
    `Imported from ${source}.`,
    '',
    `${c.arch}: ${c.n_layer} layers, ${attn} of size ${c.head_dim}, width ${c.n_embd}, MLP ${c.d_ff} (${c.mlp}), ` +
      `vocabulary ${c.vocab_size}, context ${c.block_size}, ${c.norm}, ${c.position === 'rope' ? `RoPE (theta ${c.rope_theta}, ${c.rotary_dim} dims)` : 'learned positions'}, ` +
      `${c.tied_head ? 'head tied to the token embedding' : 'separate output layer'}.`,
  ].join('\n');
}
