// llama2.c's tokenizer.bin (a SentencePiece BPE vocabulary with scores) turned into a Hugging Face
// tokenizer.json that transformers.js runs.
//
// llama2.c encodes by starting from one piece per character (bytes for characters without a piece) and
// repeatedly merging the adjacent pair whose concatenation is a piece with the highest score, leftmost
// first. A BPE model reproduces that when every (a, b) with a + b in the vocabulary is a merge, ranked by
// the score of a + b: transformers.js pops the lowest rank and breaks ties by position, leftmost first.
// The whole text is one BPE word (no pre-tokenizer), exactly as llama2.c sees it.
//
// Known differences from llama2.c, inherent to tokenizer.json: the literal strings "<unk>", "<s>", "</s>"
// in a text become those special tokens, and a literal U+2581 '▁' is read as a space.
import type { TokenizerFiles } from './types';

export interface Llama2cTokenizer {
  maxTokenLength: number;
  /** UTF-8 pieces; SentencePiece's '▁' is stored as a real ' '. Ids 1 and 2 are "\n<s>\n" and "\n</s>\n". */
  pieces: string[];
  scores: number[];
}

export const SPACE = '\u2581';
export const UNK = 0;
export const BOS = 1;
export const EOS = 2;
const SPECIAL_NAMES = ['<unk>', '<s>', '</s>'];
const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

/** Reads tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. */
export function readLlama2cTokenizer(buf: Uint8Array, vocabSize?: number): Llama2cTokenizer {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const fail = (why: string) => {
    throw new Error(`Not a llama2.c tokenizer file: ${why}.`);
  };
  if (buf.byteLength < 4) fail('it is shorter than its 4-byte header');
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 1024) fail(`max_token_length is ${maxTokenLength}`);
  const pieces: string[] = [];
  const scores: number[] = [];
  let o = 4;
  while (vocabSize === undefined ? o < buf.byteLength : pieces.length < vocabSize) {
    if (o + 8 > buf.byteLength) fail(`it ends inside token ${pieces.length}`);
    const score = view.getFloat32(o, true);
    const len = view.getInt32(o + 4, true);
    o += 8;
    if (len < 0 || len > maxTokenLength || o + len > buf.byteLength) fail(`token ${pieces.length} has length ${len}`);
    pieces.push(utf8.decode(buf.subarray(o, o + len)));
    scores.push(score);
    o += len;
  }
  if (vocabSize !== undefined && o !== buf.byteLength) {
    fail(`it holds more than the ${vocabSize} tokens expected`);
  }
  if (pieces.length < 3) fail('it has fewer than 3 tokens');
  return { maxTokenLength, pieces, scores };
}

/** The vocabulary string of a piece as tokenizer.json spells it. */
export function hfPiece(tok: Llama2cTokenizer, id: number): string {
  if (id < SPECIAL_NAMES.length && isSpecialPiece(tok.pieces[id], id)) return SPECIAL_NAMES[id];
  return tok.pieces[id].replaceAll(' ', SPACE);
}

function isSpecialPiece(piece: string, id: number): boolean {
  return piece.trim() === SPECIAL_NAMES[id];
}

/** Every (a, b) whose concatenation is a piece, best score first; ties: lower id, then shorter a. */
function llama2cMerges(tok: Llama2cTokenizer, vocab: Map<string, number>): [string, string][] {
  const mergeable = (s: string) => {
    const id = vocab.get(s);
    return id !== undefined && id >= SPECIAL_NAMES.length && !BYTE_PIECE.test(s);
  };
  const found: { a: string; b: string; score: number; id: number; k: number }[] = [];
  for (let id = SPECIAL_NAMES.length; id < tok.pieces.length; id++) {
    const p = hfPiece(tok, id);
    if (BYTE_PIECE.test(p)) continue;
    const chars = Array.from(p);
    let a = '';
    for (let k = 1; k < chars.length; k++) {
      a += chars[k - 1];
      const b = p.slice(a.length);
      if (mergeable(a) && mergeable(b)) found.push({ a, b, score: tok.scores[id], id, k });
    }
  }
  found.sort((x, y) => y.score - x.score || x.id - y.id || x.k - y.k);
  return found.map((m) => [m.a, m.b]);
}

/** tokenizer.json + tokenizer_config.json that make transformers.js encode like llama2.c (BOS, no EOS). */
export function llama2cTokenizerFiles(tok: Llama2cTokenizer, opts: { modelMaxLength?: number } = {}): TokenizerFiles {
  const vocab = new Map<string, number>();
  for (let id = 0; id < tok.pieces.length; id++) {
    const p = hfPiece(tok, id);
    if (vocab.has(p)) throw new Error(`The tokenizer has the piece ${JSON.stringify(p)} twice (ids ${vocab.get(p)} and ${id}).`);
    vocab.set(p, id);
  }
  for (let id = 0; id < SPECIAL_NAMES.length; id++) {
    if (!isSpecialPiece(tok.pieces[id], id)) {
      throw new Error(`Token ${id} of the tokenizer is ${JSON.stringify(tok.pieces[id])}, expected ${SPECIAL_NAMES[id]}.`);
    }
  }
  const added = SPECIAL_NAMES.map((content, id) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [BOS], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: llama2cMerges(tok, vocab),
    },
  };
  // transformers.js 4.x's LlamaTokenizer only pads on the left; `legacy: true` keeps older releases
  // (3.x) from swapping our normalizer for a Metaspace pre-tokenizer.
  const tokenizerConfig = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    add_bos_token: true,
    add_eos_token: false,
    legacy: true,
    clean_up_tokenization_spaces: false,
    model_max_length: opts.modelMaxLength ?? 1e30,
  };
  return { tokenizer, tokenizerConfig };
}
