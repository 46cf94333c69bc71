// An isolated code-server: its own HOME, config, user data and extensions, on a free loopback port.
// It runs in its own process group (setsid) so that stopping it also ends the extension host and
// any native helpers it spawned.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeServerBin, node24Env, nodeBin } from './setup.mjs';

/** Settings that keep a fresh profile quiet and deterministic for screenshots. */
export const baseSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'window.restoreWindows': 'none',
  'files.hotExit': 'off',
  'editor.minimap.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.layoutControl.enabled': false,
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/** A fresh directory layout for one code-server instance. */
export function makeProfile({ dir, settings = {} } = {}) {
  dir ??= mkdtempSync(join(tmpdir(), 'token-lens-cs-'));
  const p = { dir, home: join(dir, 'home'), userDataDir: join(dir, 'user-data'),
    extensionsDir: join(dir, 'extensions'), config: join(dir, 'config.yaml'), logFile: join(dir, 'code-server.log') };
  for (const d of [p.home, join(p.userDataDir, 'User'), p.extensionsDir]) mkdirSync(d, { recursive: true });
  writeFileSync(join(p.userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...baseSettings, ...settings }, null, 2));
  return p;
}

function csArgs(p) {
  return ['--config', p.config, '--user-data-dir', p.userDataDir, '--extensions-dir', p.extensionsDir];
}

function csEnv(p) {
  // XDG_* too: code-server keeps state under them when set, and the host's would leak in.
  return node24Env({ HOME: p.home, XDG_CONFIG_HOME: join(p.home, '.config'), XDG_DATA_HOME: join(p.home, '.local/share'),
    XDG_CACHE_HOME: join(p.home, '.cache'), VSCODE_AGENT_FOLDER: undefined, ELECTRON_RUN_AS_NODE: undefined });
}

/** `code-server --install-extension` into the profile's extensions dir; returns its output. */
export function installExtension(p, vsix) {
  writeFileSync(p.config, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  const r = spawnSync(nodeBin, [codeServerBin, ...csArgs(p), '--install-extension', vsix, '--force'],
    { env: csEnv(p), encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`install-extension failed (${r.status ?? r.signal}):\n${out}`);
  return out;
}

/**
 * Starts code-server and resolves once /healthz answers.
 * @param {{profile?: object, settings?: object, smokeTestDriver?: boolean, timeoutMs?: number}} opts
 */
export async function startCodeServer(opts = {}) {
  const p = opts.profile ?? makeProfile({ settings: opts.settings });
  const port = await freePort();
  writeFileSync(p.config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const args = [codeServerBin, ...csArgs(p), '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--reconnection-grace-time', '10'];
  if (opts.smokeTestDriver !== false) args.push('--vscode-option', 'enable-smoke-test-driver');
  const logFd = openSync(p.logFile, 'a');
  // detached: the child calls setsid(), so -pid addresses its whole process group.
  const child = spawn(nodeBin, args, { env: csEnv(p), detached: true, stdio: ['ignore', logFd, logFd] });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    for (const [sig, waitMs] of [['SIGTERM', 3000], ['SIGKILL', 2000]]) {
      try { process.kill(-child.pid, sig); } catch { return; }   // ESRCH: the group is gone
      const t0 = Date.now();
      while (Date.now() - t0 < waitMs) {
        try { process.kill(-child.pid, 0); } catch { return; }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`code-server exited early (${JSON.stringify(exited)}):\n${readLog(p)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await stop(); throw new Error(`code-server /healthz timed out:\n${readLog(p)}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, pid: child.pid, profile: p, stop, log: () => readLog(p),
    cleanup: async () => { await stop(); rmSync(p.dir, { recursive: true, force: true }); } };
}

function readLog(p) {
  try { return readFileSync(p.logFile, 'utf8').slice(-4000); } catch { return ''; }
}

/** The workbench URL that opens `folder` and, with the smoke-test driver on, runs an extension test suite. */
export function workbenchUrl(base, { folder, extensionDevelopmentPath, extensionTestsPath } = {}) {
  const q = [];
  if (folder) q.push(`folder=${encodeURIComponent(folder)}`);
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', `vscode-remote://remote${extensionDevelopmentPath}`]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', `vscode-remote://remote${extensionTestsPath}`]);
  if (payload.length) q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
  return `${base}/${q.length ? `?${q.join('&')}` : ''}`;
}
