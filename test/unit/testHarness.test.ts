// The test command on a fresh machine: the browser is installed before the first test that needs it, a set-up
// that fails closes what it started, and a step that hangs is stopped by its time limit. apt-get, dpkg-query and
// sudo are stand-ins on PATH here, so nothing is installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

const root = path.resolve(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-harness-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A PATH whose apt tools record their calls; dpkg-query reports `installed` or not for every package. */
function fakeApt(installed: boolean): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const bin = fs.mkdtempSync(path.join(tmp, 'bin-'));
  const log = path.join(bin, 'calls');
  const script = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> ${log}\n${body}\n`;
  fs.writeFileSync(path.join(bin, 'dpkg-query'), script(installed ? "printf 'install ok installed'" : "printf 'unknown ok not-installed'; exit 1"), { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'apt-get'), script('exit 0'), { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'sudo'), script('exec "$@"'), { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  delete env.TOKEN_LENS_CHROMIUM;
  return { env, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

test('npm run test:all installs what the tests need before the webview tests, which check for Chromium first', () => {
  const scripts = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts;
  const steps = scripts['test:all'].split('&&').map((s: string) => s.trim());
  assert.ok(steps.indexOf('npm run test:e2e:setup') >= 0, scripts['test:all']);
  assert.ok(steps.indexOf('npm run test:e2e:setup') < steps.indexOf('npm run test:webview'), scripts['test:all']);
  assert.match(scripts['test:webview'], /^node test\/e2e\/setup\.mjs --chromium && /);
});

test('on a machine without Chromium, the webview set-up installs it with apt-get; with it, it runs no apt-get', () => {
  const fresh = fakeApt(false);
  const r = spawnSync(process.execPath, [path.join(root, 'test/e2e/setup.mjs'), '--chromium'], { env: fresh.env, encoding: 'utf8' });
  const [query, ...apt] = fresh.calls().filter((c) => !c.startsWith('sudo '));
  assert.equal(query, 'dpkg-query -W -f=${Status} chromium');
  assert.deepEqual(apt, ['apt-get -o DPkg::Lock::Timeout=900 update',
    'apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends chromium']);
  // The stand-in installs nothing: the set-up then says whether the browser is really there.
  if (fs.existsSync('/usr/bin/chromium')) assert.equal(r.status, 0, r.stderr);
  else assert.match(r.stderr, /chromium package is installed but \/usr\/bin\/chromium is missing/);

  const ready = fakeApt(true);
  spawnSync(process.execPath, [path.join(root, 'test/e2e/setup.mjs'), '--chromium'], { env: ready.env, encoding: 'utf8' });
  assert.deepEqual(ready.calls(), ['dpkg-query -W -f=${Status} chromium']);
});

test('a browser that fails to launch: the webview server is closed and the test process ends', () => {
  const script = `import { serveWebview } from './test/webview/page.mjs';
    serveWebview({ name: 'explain', title: 'x', stub: 'stub.js', fixture: {} })
      .then(() => console.log('launched'), (e) => console.log('rejected: ' + e.message));`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TOKEN_LENS_CHROMIUM: path.join(tmp, 'no-chromium') },
  });
  assert.equal(r.signal, null, `the process was still running after ${Date.now() - t0} ms (an open server?)`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rejected: .*no-chromium.*run `npm run test:e2e:setup`/);
});

/** Ended: no such process, or a zombie its new parent has not reaped yet. */
function gone(pid: number): boolean {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
    try { process.kill(pid, 0); } catch { return true; }
    try { if (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return true; } catch { return true; }
    spawnSync('sleep', ['0.1']);
  }
  return false;
}

test('the watchdog stops a command that runs past its limit, with everything it started, and fails', () => {
  const pidFile = path.join(tmp, 'server.pid');
  // A shell that starts a server in the background and then waits forever.
  const hang = `node -e "require('http').createServer().listen(0); require('fs').writeFileSync('${pidFile}', String(process.pid))" & sleep 600`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/watchdog.mjs'), '0.02', '--', 'sh', '-c', hang], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 124, r.stderr);
  assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
  assert.match(r.stderr, /ran past its limit of 0\.0 min: stopping it/);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(gone(pid), `the server the command started (pid ${pid}) is still running`);

  const ok = spawnSync(process.execPath, [path.join(root, 'scripts/watchdog.mjs'), '1', '--', 'sh', '-c', 'exit 3'], { encoding: 'utf8' });
  assert.equal(ok.status, 3, 'a command that ends in time keeps its exit code');
});
