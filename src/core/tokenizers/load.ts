// Builds a transformers.js tokenizer from in-memory tokenizer.json / tokenizer_config.json objects.
import * as transformers from '@huggingface/transformers';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { tokenizerFrom } from './fromFiles';
import type { TokenizerFiles } from './types';

export function loadTokenizer(files: TokenizerFiles): PreTrainedTokenizer {
  return tokenizerFrom(transformers, files);
}
