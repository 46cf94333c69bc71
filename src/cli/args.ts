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

export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
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
} as const;
