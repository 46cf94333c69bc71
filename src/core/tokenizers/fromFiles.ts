// Builds a transformers.js tokenizer from in-memory tokenizer.json / tokenizer_config.json objects,
// choosing the class the way AutoTokenizer does (tokenizer_class, "Fast" suffix dropped). Takes the
// transformers.js module as an argument, so that a caller can load that large module lazily.
import type * as Transformers from '@huggingface/transformers';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { TokenizerFiles } from './types';

type TokenizerClass = new (tokenizerJSON: object, tokenizerConfig: object) => PreTrainedTokenizer;

export function tokenizerFrom(lib: typeof Transformers, files: TokenizerFiles): PreTrainedTokenizer {
  const { PreTrainedTokenizer } = lib;
  const name = String(files.tokenizerConfig.tokenizer_class ?? 'PreTrainedTokenizer').replace(/Fast$/, '');
  const candidate = (lib as unknown as Record<string, unknown>)[name];
  const cls =
    typeof candidate === 'function' && (candidate === PreTrainedTokenizer || candidate.prototype instanceof PreTrainedTokenizer)
      ? (candidate as TokenizerClass)
      : (PreTrainedTokenizer as unknown as TokenizerClass);
  return new cls(files.tokenizer, files.tokenizerConfig);
}
