// A model's tokenizer with exact offsets: the ids come from transformers.js, the spans from the tokens'
// bytes (tokenizers/offsets.ts). The session holds one for short texts and its public `tokenize`; the
// forward-pass worker holds another, built from the same files, and tokenizes the end of long texts there,
// off the editor's thread.
import { tokenizerFrom } from '../tokenizers/fromFiles';
import { tokenBytes, tokenOffsets } from '../tokenizers/offsets';
import type { Token } from '../types';
import { readModelJson } from './modelFiles';
import { transformers } from './transformers';
import { Vocabulary } from './vocabulary';

/** What a transformers.js tokenizer offers that this needs. */
export interface IdTokenizer {
  encode(text: string): number[];
}

export class TextTokenizer {
  constructor(private readonly ids: IdTokenizer, readonly vocab: Vocabulary) {}

  /** Builds the tokenizer of a (prepared) model folder: tokenizer.json and tokenizer_config.json. */
  static async fromFolder(folder: string): Promise<TextTokenizer> {
    const tokenizer = readModelJson(folder, 'tokenizer.json');
    const tokenizerConfig = readModelJson(folder, 'tokenizer_config.json');
    // transformers.js is large: loaded when the first tokenizer is built, not when this module is.
    const ids = tokenizerFrom(await transformers(), { tokenizer, tokenizerConfig }) as unknown as IdTokenizer;
    return new TextTokenizer(ids, new Vocabulary(tokenizer, tokenBytes(tokenizer)));
  }

  /** Token ids of a text as the model sees it (BOS included when the tokenizer adds one). */
  encode(text: string): number[] {
    return this.ids.encode(text);
  }

  /** Tokens of a text with their UTF-16 offsets. */
  tokenize(text: string): Token[] {
    return tokenOffsets(text, this.encode(text), this.vocab.bytes, {
      specialIds: this.vocab.specialIds,
      pieceText: (id) => this.vocab.pieceText(id),
    });
  }
}
