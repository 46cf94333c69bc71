// The token-lens CLI as a user runs it, from a test: the built bundle (dist/cli.js, after `npm run build`)
// or the sources through tsx, with a model cache of the test's own (TOKEN_LENS_CACHE).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const BUILT_CLI = path.join(ROOT, 'dist', 'cli.js');

export interface CliResult { code: number | null; out: string; err: string }

export interface CliOptions {
  /** The model cache folder (TOKEN_LENS_CACHE). */
  cache: string;
  /** Run this built script (dist/cli.js or a copy of it) rather than the sources through tsx. */
  built?: string;
  /** More environment variables. */
  env?: Record<string, string>;
}

/** node's arguments that run the CLI from its sources with `args`. */
export const sourceCliArgs = (...args: string[]) => ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args];

export interface Cli {
  (...args: string[]): CliResult;
  /** Runs a command that must succeed and returns what it printed as JSON. */
  json(...args: string[]): any;
}

/** A function that runs the CLI with `opts`: `cli('explain', '--json', text)`. */
export function cliRunner(opts: CliOptions): Cli {
  const run = (...args: string[]): CliResult => {
    const env = { ...process.env, TOKEN_LENS_CACHE: opts.cache, ...opts.env };
    if (opts.built) assert.ok(fs.existsSync(opts.built), `${opts.built} is missing: run \`npm run build\` first`);
    const r = opts.built
      ? spawnSync(process.execPath, [opts.built, ...args], { encoding: 'utf8', env })
      : spawnSync(process.execPath, sourceCliArgs(...args), { encoding: 'utf8', cwd: ROOT, env });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  return Object.assign(run, {
    json: (...args: string[]) => {
      const r = run(...args);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out);
    },
  });
}
