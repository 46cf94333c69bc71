// A character-level tokenizer for training from scratch on one text: one token per code point.
//
// It is a BPE model without merges and without normalizer or pre-tokenizer, so transformers.js maps each
// code point of the text to its id, and anything unseen to <unk> (the last id). <unk> is deliberately
// not an added token: added tokens are matched in the raw text, and a text containing the five
// characters "<unk>" must still encode to five ids.
import type { TokenizerFiles } from './types';

export const CHAR_UNK = '<unk>';

/** Sorted unique code points of a text (lone surrogates included, as themselves). */
export function charVocabulary(text: string): string[] {
  return [...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

/**
 * Token i is chars[i]; <unk> is token chars.length. With `unk: false` (a model whose vocabulary is exactly
 * `chars`, like nanoGPT's meta.pkl) there is no <unk>, and characters outside the vocabulary are skipped.
 */
export function charTokenizerFiles(chars: string[], opts: { unk?: boolean } = {}): TokenizerFiles {
  const unk = opts.unk ?? true;
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => {
    if (Array.from(c).length !== 1) throw new Error(`Not a single character: ${JSON.stringify(c)}.`);
    if (c in vocab) throw new Error(`The character ${JSON.stringify(c)} is listed twice.`);
    vocab[c] = i;
  });
  if (unk) {
    if (CHAR_UNK in vocab) throw new Error('"<unk>" is reserved.');
    vocab[CHAR_UNK] = chars.length;
  }
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk ? CHAR_UNK : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizer',
    unk_token: unk ? CHAR_UNK : null,
    bos_token: null,
    eos_token: null,
    pad_token: null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1e30,
  };
  return { tokenizer, tokenizerConfig };
}

/**
 * For a character tokenizer (as written by charTokenizerFiles): the characters of `text` it has no token for, all of
 * which encode to <unk>, and <unk>'s id. Undefined for any other tokenizer.
 */
export function unknownChars(tokenizer: TokenizerFiles['tokenizer'], text: string): { id: number; chars: string[] } | undefined {
  const model = tokenizer.model as { type?: string; unk_token?: string; vocab?: Record<string, number>; merges?: unknown[] } | undefined;
  const vocab = model?.vocab;
  if (model?.type !== 'BPE' || model.unk_token !== CHAR_UNK || !vocab || !(CHAR_UNK in vocab) || model.merges?.length) return undefined;
  return { id: vocab[CHAR_UNK], chars: charVocabulary(text).filter((c) => !Object.prototype.hasOwnProperty.call(vocab, c)) };
}
