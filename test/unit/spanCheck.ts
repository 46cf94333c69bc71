// An independent check of token spans: each token's bytes are decoded here from the tokenizer.json
// vocabulary (not by the offsets code), and the text under each span must be exactly those bytes.
import assert from 'node:assert/strict';
import type { Token } from '../../src/core/types';

export type PieceStyle = 'byteLevel' | 'sentencepiece';

export interface SpanRules {
  style: PieceStyle;
  /** SentencePiece's dummy prefix: the first real token's leading space is not in the text. */
  dummyPrefix: boolean;
  /** The tokenizer normalizes to NFC: compare the span's text after NFC. */
  nfc: boolean;
}

/** GPT-2's printable alphabet for bytes, written out again from its definition. */
function byteLevelAlphabet(): Map<string, number> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : 256 + next++), b);
  return map;
}

/** id -> the bytes the token stands for; null for special (added, special) tokens. */
export function vocabularyDecoder(tokenizerJson: Record<string, unknown>, style: PieceStyle): (id: number) => Uint8Array | null {
  const tj = tokenizerJson as { model: { vocab: Record<string, number> }; added_tokens?: { id: number; content: string; special: boolean }[] };
  const piece = new Map<number, string>();
  for (const [p, id] of Object.entries(tj.model.vocab)) piece.set(id, p);
  const special = new Set<number>();
  for (const a of tj.added_tokens ?? []) {
    piece.set(a.id, a.content);
    if (a.special) special.add(a.id);
  }
  const alphabet = byteLevelAlphabet();
  const utf8 = new TextEncoder();
  return (id) => {
    if (special.has(id)) return null;
    const p = piece.get(id);
    assert.ok(p !== undefined, `id ${id} is not in the vocabulary`);
    if (style === 'byteLevel') return Uint8Array.from([...p], (c) => alphabet.get(c) ?? assert.fail(`${JSON.stringify(c)} in ${JSON.stringify(p)}`));
    const byte = /^<0x([0-9A-F]{2})>$/.exec(p);
    return byte ? Uint8Array.of(parseInt(byte[1], 16)) : utf8.encode(p.replaceAll('\u2581', ' '));
  };
}

/**
 * The spans partition the text, specials are zero-width, and each run of tokens that makes whole
 * characters (one token, or the byte pieces of one character) covers exactly the text those bytes spell.
 */
export function assertSpans(text: string, tokens: Token[], decode: (id: number) => Uint8Array | null, rules: SpanRules): void {
  const where = () => `in ${JSON.stringify(text.slice(0, 80))}: ${JSON.stringify(tokens.slice(0, 12).map((t) => [t.id, t.text, t.start, t.end]))}`;
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let at = 0;
  let firstReal = true;
  let pending: number[] = [];
  let groupStart = 0;
  for (const t of tokens) {
    assert.equal(t.start, at, `token ${JSON.stringify(t)} should start at ${at} ${where()}`);
    assert.ok(t.end >= t.start, `negative span ${JSON.stringify(t)}`);
    at = t.end;
    const bytes = decode(t.id);
    if (bytes === null) {
      assert.equal(t.special, true, `${JSON.stringify(t)} is special in tokenizer.json`);
      // Zero-width, or exactly its own spelling where the text spells a special out (tokenizer.json matches
      // added tokens in the text: a literal "<unk>" is that token).
      const spelledOut = t.end > t.start && text.slice(t.start, t.end) === t.text;
      assert.ok(t.start === t.end || spelledOut, `special ${JSON.stringify(t)} is neither zero-width nor its own text ${where()}`);
      // SentencePiece puts its dummy-prefix space after a special again.
      if (spelledOut) {
        firstReal = true;
        groupStart = t.end;
      }
      continue;
    }
    let b = Array.from(bytes);
    if (firstReal && rules.dummyPrefix && b[0] === 0x20) b = b.slice(1);
    firstReal = false;
    pending.push(...b);
    let spelled: string;
    try {
      spelled = strict.decode(Uint8Array.from(pending));
    } catch {
      continue; // part of a character: the run goes on
    }
    const covered = text.slice(groupStart, t.end);
    // NFC can join characters that the tokenizer then splits ("a" + U+0323 + U+0308 is "ạ" + U+0308): the
    // first token takes the joined characters, and the run goes on until its tokens spell them.
    if (rules.nfc && covered.normalize('NFC') !== spelled && covered.normalize('NFC').startsWith(spelled)) continue;
    assert.equal(rules.nfc ? covered.normalize('NFC') : covered, spelled, `token ${JSON.stringify(t)} ${where()}`);
    pending = [];
    groupStart = t.end;
  }
  assert.equal(pending.length, 0, `the tokens end inside a character, or short of what they cover ${where()}`);
  assert.equal(at, text.length, `the spans end at ${at}, the text at ${text.length} ${where()}`);
}
