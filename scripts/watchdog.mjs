// Runs one command under a time limit. Past the limit the command's whole process group (test runners,
// browsers, servers they started) gets SIGTERM, then SIGKILL, and the run fails with a message that names
// the limit: a hung step ends the run instead of holding it open.
// Usage: node scripts/watchdog.mjs MINUTES -- COMMAND [ARG...]
// TOKEN_LENS_WATCHDOG_SCALE multiplies every limit (a slow or busy machine).
import { spawn } from 'node:child_process';

const GRACE_MS = 10_000;   // between SIGTERM and SIGKILL: time for a harness to stop its own servers

const sep = process.argv.indexOf('--');
const minutes = Number(process.argv[2]);
const command = sep > 0 ? process.argv.slice(sep + 1) : [];
if (!(minutes > 0) || command.length === 0) {
  console.error('usage: node scripts/watchdog.mjs MINUTES -- COMMAND [ARG...]');
  process.exit(2);
}
const limitMs = minutes * 60_000 * (Number(process.env.TOKEN_LENS_WATCHDOG_SCALE) || 1);
const what = command.join(' ');

// detached: the child leads a new process group, so one signal reaches everything it started.
const child = spawn(command[0], command.slice(1), { stdio: 'inherit', detached: true });
const signalGroup = (sig) => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } };

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  console.error(`\n[watchdog] "${what}" ran past its limit of ${(limitMs / 60_000).toFixed(1)} min: stopping it.`);
  signalGroup('SIGTERM');
  setTimeout(() => signalGroup('SIGKILL'), GRACE_MS).unref();
}, limitMs);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    signalGroup(sig);
    setTimeout(() => signalGroup('SIGKILL'), GRACE_MS).unref();
  });
}

child.on('error', (e) => {
  clearTimeout(timer);
  console.error(`[watchdog] could not start "${what}": ${e.message}`);
  process.exit(127);
});

child.on('exit', (code, signal) => {
  clearTimeout(timer);
  // Whatever the command left running in its group (a stray server or browser) goes with it.
  signalGroup('SIGKILL');
  if (timedOut) {
    console.error(`[watchdog] "${what}" was stopped after ${(limitMs / 60_000).toFixed(1)} min (failed).`);
    process.exit(124);
  }
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1) : 1));
});
