// BERT's WordPiece tokenizer as a tokenizer.json (the Hugging Face tokenizers format transformers.js reads):
// BERT's normalizer (control characters dropped, spaces around CJK, lowercase, accents stripped), its
// pre-tokenizer (split at whitespace and punctuation), WordPiece with the "##" prefix for pieces that
// continue a word, and the [CLS] text [SEP] template.
import type { TokenizerFiles } from './types';

export const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * A vocabulary for a small WordPiece model: the specials, then every character of `text` (lowercased,
 * accents stripped, as BERT reads it) alone and as a "##" continuation, then `words` (the same way).
 * Any text in those characters tokenizes; the words give it whole-word tokens.
 */
export function wordPieceVocabulary(text: string, words: string[] = []): string[] {
  const read = (s: string) => s.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
  const chars = [...new Set(Array.from(read(text)).filter((c) => /\S/u.test(c)))].sort();
  const whole = [...new Set(words.map(read))].filter((w) => Array.from(w).length > 1 && /^[\p{L}\p{N}]+$/u.test(w)).sort();
  return [...BERT_SPECIALS, ...chars, ...chars.map((c) => `##${c}`), ...whole];
}

/** tokenizer.json and tokenizer_config.json of a BERT (uncased) WordPiece tokenizer over `vocab`. */
export function wordPieceTokenizerFiles(vocab: string[]): TokenizerFiles {
  const ids: Record<string, number> = {};
  vocab.forEach((piece, i) => {
    if (piece in ids) throw new Error(`The piece ${JSON.stringify(piece)} is listed twice.`);
    ids[piece] = i;
  });
  const missing = BERT_SPECIALS.filter((s) => !(s in ids));
  if (missing.length) throw new Error(`A BERT vocabulary needs ${missing.join(', ')}.`);
  const special = (content: string) => ({ id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const token = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [token('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, token('[SEP]')],
      pair: [token('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, token('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((s) => [s, { id: s, ids: [ids[s]], tokens: [s] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
  const tokenizerConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
    clean_up_tokenization_spaces: true,
    model_max_length: 512,
  };
  return { tokenizer, tokenizerConfig };
}

/** Characters a small built-in vocabulary covers: printable ASCII and Latin-1 letters. */
const BASIC_CHARS = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('') +
  'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ';

/** Common English words (TinyStories' most frequent), whole-word tokens of the built-in vocabulary. */
const BASIC_WORDS = `the and to a was he she it they her his of in on with for is that said one day you
there had big little but so at be very not happy were went saw we all do what can time up play wanted
friend mom dad could like did no went out then this help from me how fun park dog cat ball tree bird
home girl boy named lily tim ben sue sun sky red blue green new good bad sad look see want find love
toy run jump eat food water car house room bed door box book hat fish bear duck cake tea milk once upon
come came go get got make made take took give gave know knew think thought feel felt let us our your
my are is am an as by if or when where who why will would should just now too some many more most`.split(/\s+/);

/** The built-in WordPiece vocabulary of random-weight BERT models. */
export function basicWordPieceVocabulary(): string[] {
  return wordPieceVocabulary(BASIC_CHARS, BASIC_WORDS);
}
