// A tiny test runner for the extension host: register async tests, run them in order, log each result.
// The host's test loader calls the suite's run(); a rejection there is what makes the run fail.

export type TestFn = () => Promise<void> | void;
interface Test { name: string; fn: TestFn; timeoutMs: number }

const tests: Test[] = [];

export function test(name: string, fn: TestFn, timeoutMs = 60_000): void {
  tests.push({ name, fn, timeoutMs });
}

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${name}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export interface Summary { passed: number; failed: number; results: { name: string; ok: boolean; ms: number; error?: string }[] }

export async function runTests(log: (line: string) => void = console.log, filter?: RegExp): Promise<Summary> {
  const summary: Summary = { passed: 0, failed: 0, results: [] };
  for (const t of tests) {
    if (filter && !filter.test(t.name)) continue;
    const t0 = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, t.name);
      const ms = Date.now() - t0;
      summary.passed++;
      summary.results.push({ name: t.name, ok: true, ms });
      log(`ok - ${t.name} (${ms} ms)`);
    } catch (e) {
      const ms = Date.now() - t0;
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      summary.failed++;
      summary.results.push({ name: t.name, ok: false, ms, error });
      log(`not ok - ${t.name} (${ms} ms)\n  ${error.split('\n').join('\n  ')}`);
    }
  }
  log(`${summary.passed} passed, ${summary.failed} failed`);
  return summary;
}

/** Polls `probe` until it returns a value other than undefined/false, or throws the last reason. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) { last = e; }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}
