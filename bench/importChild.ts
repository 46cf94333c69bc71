// One import in a fresh process, for bench/import.ts: prints {"importMs","peakRssMb","baseRssMb"}.
import { importCheckpoint } from '../src/core/importers/importCheckpoint';

async function main(): Promise<void> {
  const [from, out] = process.argv.slice(2);
  const baseRssMb = process.resourceUsage().maxRSS / 1024;
  const started = performance.now();
  await importCheckpoint({ from, out });
  const importMs = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ importMs, peakRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exitCode = 1;
});
