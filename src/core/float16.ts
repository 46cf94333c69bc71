// IEEE 754 half precision: float16 exports and F16 checkpoints arrive as raw 16-bit patterns.

/** Half-precision bits to their value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A value to half-precision bits, rounding to nearest even; beyond +-65504 it clips, as onnxconverter-common does. */
export function floatToHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const v = Math.max(-65504, Math.min(65504, value));
  const x = new Uint32Array(new Float32Array([v]).buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in and round what falls off.
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}
