// Small helpers shared by the CLI commands: argument parsing with clear errors, the cache folder.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
}

/** An integer flag: digits only (no "1e3", "0x10" or empty string), at least `min`, at most `max`. */
export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = /^\+?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}, got "${value}"`);
  }
  return n;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A number flag: a finite decimal number above `above` (or at least `min`). */
export function numberOption(value: string | undefined, name: string, range: { above: number } | { min: number }): number | undefined {
  if (value === undefined) return undefined;
  const n = DECIMAL.test(value.trim()) ? Number(value) : NaN;
  const ok = Number.isFinite(n) && ('above' in range ? n > range.above : n >= range.min);
  if (!ok) {
    const want = 'above' in range ? (range.above === 0 ? 'a number > 0' : `a number > ${range.above}`) : `a number >= ${range.min}`;
    throw new UsageError(`--${name} must be ${want}, got "${value}"`);
  }
  return n;
}

export function defaultCacheDir(): string {
  return process.env.TOKEN_LENS_CACHE ?? path.join(os.homedir(), '.cache', 'token-lens');
}

export const commonModelOptions = {
  model: { type: 'string' },
  'cache-dir': { type: 'string' },
  offline: { type: 'boolean' },
  'hub-host': { type: 'string' },
  dtype: { type: 'string' },
  fast: { type: 'boolean' },
  'served-model': { type: 'string' },
  timeout: { type: 'string' },
  api: { type: 'string' },
} as const;
