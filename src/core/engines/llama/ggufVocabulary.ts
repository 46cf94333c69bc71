// A GGUF file's vocabulary, read the way Token Lens reads a tokenizer.json: the same token bytes, the
// same readable piece texts and the same offsets rule (the first word's prefix space maps to nothing).
// llama.cpp's two common tokenizers are SentencePiece-style ('llama': ▁ for spaces, <0xAB> byte pieces)
// and byte-level BPE ('gpt2', GPT-2's printable byte alphabet); both are described here as the
// tokenizer.json that Token Lens's offset code already understands.
import { tokenBytes } from '../../tokenizers/offsets';
import { Vocabulary } from '../../runtime/vocabulary';

export interface GgufTokenizerMetadata {
  model?: string;
  tokens?: readonly string[];
  token_type?: readonly number[];
  add_space_prefix?: boolean;
  add_bos_token?: boolean;
  bos_token_id?: number;
  unknown_token_id?: number;
}

export class GgufVocabularyError extends Error {}

// llama.cpp's token types that are not text: unknown, control (BOS, EOS, chat markers), unused.
const UNKNOWN = 2, CONTROL = 3, UNUSED = 5;

/** The vocabulary of a GGUF file's `tokenizer.ggml.*` metadata. */
export function ggufVocabulary(t: GgufTokenizerMetadata, file: string): Vocabulary {
  const tokens = t.tokens;
  if (!tokens?.length) throw new GgufVocabularyError(`${file} has no vocabulary (tokenizer.ggml.tokens).`);
  const types = t.token_type ?? [];
  const special = (id: number) => types[id] === CONTROL || types[id] === UNKNOWN || types[id] === UNUSED;
  const added = tokens.flatMap((content, id) => (special(id) ? [{ id, content, special: true }] : []));
  const vocab = tokens.map((p, id) => [p, id] as [string, number]);
  let json: Record<string, unknown>;
  if (t.model === 'llama') {
    json = {
      model: { type: 'BPE', vocab, byte_fallback: true },
      added_tokens: added,
      decoder: { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
      // llama.cpp puts a space before the text unless the file says not to.
      normalizer: t.add_space_prefix === false ? null : { type: 'Prepend', prepend: '\u2581' },
    };
  } else if (t.model === 'gpt2') {
    json = { model: { type: 'BPE', vocab }, added_tokens: added, decoder: { type: 'ByteLevel' }, pre_tokenizer: { type: 'ByteLevel' } };
  } else {
    throw new GgufVocabularyError(`${file} uses the "${t.model ?? 'unknown'}" tokenizer: Token Lens maps tokens to text for ` +
      'SentencePiece-style ("llama") and byte-level BPE ("gpt2") vocabularies only.');
  }
  return new Vocabulary(json, tokenBytes(json));
}
