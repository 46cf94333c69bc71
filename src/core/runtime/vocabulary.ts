// What each token id stands for: its bytes, a readable piece text, and which ids are special.
import type { TokenBytes } from '../tokenizers/offsets';

export class Vocabulary {
  readonly specialIds = new Set<number>();
  readonly size: number;
  readonly bosId: number | undefined;
  private readonly specialText = new Map<number, string>();
  private readonly pieces = new Map<number, string>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  /** The bytes of a token (none for specials), carrying what the tokenizer does to the text as a whole
   *  (its dummy-prefix space, its Unicode normalization): the offsets of tokens depend on both. */
  readonly bytes: TokenBytes;

  constructor(tokenizerJson: TokenizerJson, private readonly bytesOf: TokenBytes) {
    const bytes: TokenBytes = (id) => (this.specialIds.has(id) ? new Uint8Array(0) : bytesOf(id));
    bytes.dummyPrefix = bytesOf.dummyPrefix;
    bytes.normalization = bytesOf.normalization;
    bytes.wordPiece = bytesOf.wordPiece;
    this.bytes = bytes;
    for (const t of tokenizerJson.added_tokens ?? []) {
      if (t.special) {
        this.specialIds.add(t.id);
        this.specialText.set(t.id, t.content);
      }
    }
    const vocab = tokenizerJson.model?.vocab;
    const n = Array.isArray(vocab) ? vocab.length : vocab ? Object.keys(vocab).length : 0;
    this.size = Math.max(n, ...[...this.specialIds].map((id) => id + 1));
    this.bosId = findBos(tokenizerJson);
  }

  /** The token as readable text: UTF-8 when its bytes are valid on their own, <0xAB> per byte otherwise. */
  pieceText(id: number): string {
    let s = this.pieces.get(id);
    if (s === undefined) {
      s = this.specialText.get(id) ?? this.decodeBytes(this.bytesOf(id));
      this.pieces.set(id, s);
    }
    return s;
  }

  private decodeBytes(b: Uint8Array): string {
    try {
      return this.decoder.decode(b);
    } catch {
      return [...b].map((x) => `<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
    }
  }
}

export interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { vocab?: Record<string, number> | [string, number][] };
  post_processor?: { single?: { SpecialToken?: { id: string } }[]; special_tokens?: Record<string, { ids: number[] }> } | null;
}

function findBos(t: TokenizerJson): number | undefined {
  const single = t.post_processor?.single;
  const special = single?.find((p) => p.SpecialToken)?.SpecialToken?.id;
  if (special && t.post_processor?.special_tokens?.[special]) return t.post_processor.special_tokens[special].ids[0];
  const named = (t.added_tokens ?? []).find((a) => ['<s>', '<|endoftext|>', '<|begin_of_text|>', '<bos>'].includes(a.content));
  return named?.id;
}
