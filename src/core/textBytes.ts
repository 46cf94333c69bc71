// The one check that bytes read from a file are text: no NUL bytes (a binary) and valid UTF-8. Explaining and
// training refuse the same files with the same words; decoding with replacement characters would
// silently analyse or learn from garbage.

export class NotTextError extends Error {}

/** Decodes `bytes` as UTF-8, or throws a NotTextError naming `file` and the first bad byte. */
export function decodeText(bytes: Uint8Array, file: string): string {
  if (bytes.includes(0)) throw new NotTextError(`${file} looks like a binary file (it contains NUL bytes): use a text file.`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidByte(bytes);
    throw new NotTextError(`${file} is not valid UTF-8 text (byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${at}): ` +
      'save it as UTF-8.');
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidByte(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const lead = b[i];
    const need = lead < 0x80 ? 0 : lead >= 0xc2 && lead < 0xe0 ? 1 : lead >= 0xe0 && lead < 0xf0 ? 2 : lead >= 0xf0 && lead < 0xf5 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    // Overlong three- and four-byte forms, surrogates and code points past U+10FFFF.
    const second = b[i + 1];
    if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f) ||
      (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f)) return i;
    i += need + 1;
  }
  return 0;
}
