// An independent re-implementation of llama2.c's encode() (run.c), used only as a test oracle.
// It works on bytes like the C code: pieces are compared as byte strings, characters are grouped as a
// lead byte plus up to 3 continuation bytes, and every merge step scans all pairs for the best score.
export function llama2cEncode(
  pieces: Uint8Array[],
  scores: number[],
  text: Uint8Array,
  bos: boolean,
  eos: boolean,
): number[] {
  const key = (b: Uint8Array) => Buffer.from(b).toString('latin1');
  const lookup = new Map<string, number>();
  // bsearch over the sorted vocabulary: with unique pieces any hit is the hit.
  pieces.forEach((p, i) => { if (!lookup.has(key(p))) lookup.set(key(p), i); });
  const find = (b: Uint8Array) => lookup.get(key(b)) ?? -1;

  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (text.length > 0) tokens.push(find(Uint8Array.of(0x20)));

  let i = 0;
  while (i < text.length) {
    let j = i + 1;
    // (c & 0xC0) == 0x80 is a continuation byte; at most 4 bytes per code point.
    while (j < text.length && (text[j] & 0xc0) === 0x80 && j - i < 4) j++;
    const ch = text.subarray(i, j);
    const id = find(ch);
    if (id !== -1) tokens.push(id);
    else for (const b of ch) tokens.push(b + 3);
    i = j;
  }

  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let k = 0; k < tokens.length - 1; k++) {
      const a = pieces[tokens[k]];
      const b = pieces[tokens[k + 1]];
      const merged = new Uint8Array(a.length + b.length);
      merged.set(a);
      merged.set(b, a.length);
      const id = find(merged);
      if (id !== -1 && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIdx = k;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  if (eos) tokens.push(2);
  return tokens;
}

/** Reads the raw pieces (bytes) and scores of a llama2.c tokenizer.bin, without the code under test. */
export function readRawPieces(buf: Buffer): { pieces: Uint8Array[]; scores: number[] } {
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let o = 4;
  while (o < buf.length) {
    scores.push(buf.readFloatLE(o));
    const n = buf.readInt32LE(o + 4);
    pieces.push(buf.subarray(o + 8, o + 8 + n));
    o += 8 + n;
  }
  return { pieces, scores };
}
