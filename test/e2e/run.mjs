// The real-VS-Code run: package + install the extension (or point at the repo with --dev), start one code-server,
// run the extension-host suites, then the UI scenarios; always stop it. Nothing sets tokenLens.model: everything
// runs offline on the built-in stories260K the VSIX carries, as after a fresh install. (Scenarios that need
// another model set it in the folder's settings and put it back; the Hub one downloads from a local
// stand-in for the Hub that the run starts on 127.0.0.1 and stops.)
// Assumes `npm run build` ran.
// Usage: node test/e2e/run.mjs [--dev] [--no-suite] [--suite=NAME,...] [--no-ui] [--scenario=TEXT] [--keep] [--verbose]
// (--scenario: only the UI scenarios whose names contain TEXT)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { require as tsxRequire } from 'tsx/cjs/api';
import { packageTargets } from '../../scripts/package.mjs';
import { buildSuite } from '../integration/build.mjs';
import { installExtension, makeProfile, startCodeServer, workbenchUrl } from './codeServer.mjs';
import { lensScenarios } from './lensScenarios.mjs';
import { HUB_REPO, modelScenarios, modelWorkspaceFiles } from './modelScenarios.mjs';
import { runScenarios, scenarios, workspaceFiles } from './scenarios.mjs';
import { cacheDir, root, setup } from './setup.mjs';
import { launchBrowser, openWorkbench, runExtensionHostSuite } from './workbench.mjs';

const argv = new Set(process.argv.slice(2));
const suiteArg = process.argv.find((a) => a.startsWith('--suite='));
const scenarioArg = process.argv.find((a) => a.startsWith('--scenario='));
const EXTENSION_ID = 'token-lens.token-lens';
const resultsDir = join(root, 'test-results');
const log = (msg) => console.log(`[e2e] ${msg}`);
// The whole run's time limit: past it, or on SIGINT/SIGTERM, the browser and code-server are stopped and
// the run fails. (Blocking steps such as packaging carry their own limits.)
const LIMIT_MIN = Number(process.env.TOKEN_LENS_E2E_LIMIT_MIN) || 40;

/** What the run started and must stop, however it ends. */
const running = { server: undefined, browser: undefined, hub: undefined, tmp: undefined };
let stopping;
/** One stop for every path that ends the run: a signal arriving mid-run and the run's own end wait for the same one. */
function stopAll() {
  stopping ??= (async () => {
    const { server, browser, hub } = running;
    await browser?.close().catch(() => {});
    await server?.stop();
    await hub?.close();
  })();
  return stopping;
}

function removeTmp() {
  if (running.tmp && !argv.has('--keep')) rmSync(running.tmp, { recursive: true, force: true });
  else if (running.tmp) log(`kept ${running.tmp}`);
  running.tmp = undefined;
}

function abortRun(why, exitCode) {
  console.error(`[e2e] ${why}: stopping the browser and code-server`);
  console.log('0 passed, 1 failed');
  stopAll().finally(() => { removeTmp(); process.exit(exitCode); });
}
process.once('SIGINT', () => abortRun('interrupted (SIGINT)', 130));
process.once('SIGTERM', () => abortRun('stopped (SIGTERM)', 143));
setTimeout(() => abortRun(`no result after ${LIMIT_MIN} min (TOKEN_LENS_E2E_LIMIT_MIN)`, 1), LIMIT_MIN * 60_000).unref();

/** A GPT-2-small-shaped model with random weights and a 256-token context, written by the CLI (memory suite). */
function writeGpt2Model() {
  const out = join(cacheDir, 'models', 'gpt2-small-ctx256');
  const cli = join(root, 'dist', 'cli.js');
  if (existsSync(join(out, 'onnx', 'model.onnx'))) return out;
  const args = [cli, 'write-random', '--arch', 'gpt2', '--preset', 'gpt2-small', '--context', '256', '--out', out];
  log(`$ node ${args.map((a) => a.replace(root + '/', '')).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`write-random exited with ${r.status ?? r.signal}`);
  return out;
}

/** A GPT-2-family model small enough for a UI scenario: 2 blocks, random weights, GPT-2's real BPE (50,257 tokens). */
function writeGpt2Tiny() {
  const out = join(cacheDir, 'models', 'gpt2-tiny');
  if (existsSync(join(out, 'onnx', 'model.onnx'))) return out;
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'write-random', '--arch', 'gpt2', '--preset', 'gpt2-tiny', '--out', out], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`write-random exited with ${r.status ?? r.signal}`);
  return out;
}

/** A GPT-2-small-sized Hugging Face checkpoint for the import scenarios (written once, as `npm run bench:import` does). */
function writeCheckpoint(size = 'small') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'randomCheckpoint.ts'), size], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/randomCheckpoint.ts exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The built-in stories260K as a GGUF file (export-gguf), for the llama.cpp scenario. */
function writeGgufModel(dir) {
  const out = join(dir, 'stories260K.gguf');
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'export-gguf', '--model', join(root, 'dist', 'models', 'stories260K'), '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`export-gguf exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return out;
}

/** The vendored tiny BERT, imported as a user would (`token-lens import`), for the masked-model scenario. */
function importTinyBert(dir) {
  const out = join(dir, 'tiny-bert-stories');
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'import', '--from', join(root, 'vendor', 'tiny-bert-stories'), '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import of the tiny BERT exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return out;
}

/**
 * A Hub repository folder with four variants of the GPT-2-family model: its fp32 model.onnx and what
 * `token-lens quantize` writes from it (q8, q4, fp16). Returns the folder that holds the repository.
 */
function writeHubVariants(gpt2Tiny) {
  const hubRoot = join(cacheDir, 'models', 'hub');
  const repo = join(hubRoot, HUB_REPO);
  if (existsSync(join(repo, 'onnx', 'model.onnx'))) return hubRoot;
  // Written aside and renamed when whole: a run stopped half-way leaves no repository that looks complete.
  const staging = `${repo}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const to of ['q8', 'q4', 'fp16']) {
    const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'quantize', '--model', gpt2Tiny, '--to', to, '--out', staging], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`quantize --to ${to} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  }
  copyFileSync(join(gpt2Tiny, 'onnx', 'model.onnx'), join(staging, 'onnx', 'model.onnx'));
  try {
    renameSync(staging, repo);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(repo, 'onnx', 'model.onnx'))) throw e;
  }
  return hubRoot;
}

/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1 (the unit tests' own), serving `hubRoot`'s
 * repositories as token-lens-test/local-*. Its files come at 1 MB/s, so a download's progress shows
 * for a while (the model file takes about 13 s).
 */
async function startLocalHub(hubRoot) {
  const { startHub } = tsxRequire('../unit/hubServer.ts', import.meta.url);
  const hub = await startHub(hubRoot, { bytesPerSecond: 2 ** 20 });
  return { ...hub, root: hubRoot };
}

/** The model settings go in the folder too: once, the first window of a fresh server ran without the user value. */
function makeWorkspace(parent, name, settings, extraFiles = {}) {
  const dir = join(parent, name);
  mkdirSync(join(dir, '.vscode'), { recursive: true });
  if (settings) writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  for (const [file, text] of Object.entries({ ...workspaceFiles, ...extraFiles })) writeFileSync(join(dir, file), text);
  return dir;
}

/** Extension-host suites, each in its own window; each logs its lines with its prefix. */
const SUITES = [
  { name: 'suite', entry: 'test/integration/index.ts', prefix: '[suite] ' },
  // glue.ts changes tokenLens.* at user level, which a folder value would hide: it gets the user settings only.
  // It also loads models by Hub id, import and a server of token-lens serve: more than the default 4 minutes on a busy machine.
  { name: 'glue', entry: 'test/integration/glue.ts', prefix: '[glue] ', userSettingsOnly: true, timeoutMs: 480_000 },
  { name: 'walkthrough', entry: 'test/integration/walkthrough.ts', prefix: '[walkthrough] ', userSettingsOnly: true },
  { name: 'finetune', entry: 'test/integration/finetune.ts', prefix: '[finetune] ' },
  // 1,000 hovers and model loads on a GPT-2-small-shaped model: minutes on a busy 2-core machine.
  { name: 'memory', entry: 'test/integration/memory.ts', prefix: '[memory] ', userSettingsOnly: true, timeoutMs: 1_200_000, gpt2: true },
  { name: 'shapes', entry: 'test/integration/textShapes.ts', prefix: '[shapes] ' },
  { name: 'lenses', entry: 'test/integration/lenses.ts', prefix: '[lenses] ' },
].filter((s) => existsSync(join(root, s.entry)));

function countSuite(lines, prefix) {
  const closing = lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).match(/^(\d+) passed, (\d+) failed$/)).filter(Boolean).pop();
  return { passed: closing ? Number(closing[1]) : 0, failed: closing ? Number(closing[2]) : 0, reported: Boolean(closing) };
}

async function main() {
  const t0 = Date.now();
  for (const f of ['dist/extension.js', 'dist/cli.js', 'dist/models/stories260K/onnx/model.onnx']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  }
  setup();
  // Screenshots of failures belong to this run only.
  if (existsSync(resultsDir)) for (const f of readdirSync(resultsDir)) if (f.endsWith('-failed.png')) rmSync(join(resultsDir, f));
  const only = suiteArg?.slice('--suite='.length);
  const chosen = SUITES.filter((s) => !only || only.split(',').includes(s.name));
  // The memory suite switches between a GPT-2-small-shaped model and stories260K (the built-in model's files).
  const model = join(root, 'dist', 'models', 'stories260K');
  const gpt2 = chosen.some((s) => s.gpt2) && !argv.has('--no-suite') ? writeGpt2Model() : undefined;
  const tmp = running.tmp = mkdtempSync(join(tmpdir(), 'token-lens-e2e-'));
  const modelSettings = { 'tokenLens.offline': true };
  const profile = makeProfile({ dir: join(tmp, 'cs'), settings: { ...modelSettings, 'editor.hover.delay': 300 } });

  let extensionPath = root;
  if (!argv.has('--dev')) {
    const [{ file }] = packageTargets(['linux-x64'], join(root, 'out', 'vsix'));
    log(installExtension(profile, file).trim().split('\n').pop());
    const installed = readdirSync(profile.extensionsDir).find((d) => d.startsWith(`${EXTENSION_ID}-`));
    if (!installed) throw new Error(`${EXTENSION_ID} is not in ${profile.extensionsDir} after --install-extension`);
    extensionPath = join(profile.extensionsDir, installed);
  }
  log(`extension: ${extensionPath}`);
  const suites = argv.has('--no-suite') ? [] : await Promise.all(chosen.map(async (s) => ({
    ...s, js: await buildSuite(join(root, s.entry), join(root, 'out', 'integration', `${s.name}.js`)),
  })));

  const summary = { passed: 0, failed: 0, skipped: 0, lines: [] };
  let server;
  let browser;
  try {
    server = running.server = await startCodeServer({ profile });
    log(`code-server at ${server.url} (pid ${server.pid}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = running.browser = await launchBrowser();

    for (const suite of suites) {
      const extra = suite.gpt2 ? { 'models.json': JSON.stringify({ gpt2, stories260K: model }) } : {};
      const url = workbenchUrl(server.url, { folder: makeWorkspace(tmp, suite.name, suite.userSettingsOnly ? undefined : modelSettings, extra), extensionDevelopmentPath: extensionPath, extensionTestsPath: suite.js });
      const { code, lines } = await runExtensionHostSuite(browser.context, url, {
        timeoutMs: suite.timeoutMs,
        onLog: (l) => { if (l.startsWith(suite.prefix) || argv.has('--verbose')) console.log(`  ${l}`); },
      });
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, `extension-host-${suite.name}.log`), lines.join('\n') + '\n');
      const c = countSuite(lines, suite.prefix);
      summary.passed += c.passed;
      summary.failed += c.failed;
      // A suite that crashed, timed out or ended without its closing count failed, whatever its exit code.
      if ((code !== 0 || !c.reported) && c.failed === 0) summary.failed++;
      summary.lines.push(`extension-host ${suite.entry}: exit ${code}, ${c.passed} passed, ${c.failed} failed${c.reported ? '' : ' (no closing count: it did not finish)'}`);
    }

    if (!argv.has('--no-ui')) {
      const ws = makeWorkspace(tmp, 'ui', modelSettings, modelWorkspaceFiles);
      const url = workbenchUrl(server.url, { folder: ws, extensionDevelopmentPath: argv.has('--dev') ? extensionPath : undefined });
      const page = await openWorkbench(browser.context, url);
      const importedDir = join(profile.userDataDir, 'User', 'globalStorage', EXTENSION_ID, 'imported');
      const only = scenarioArg?.slice('--scenario='.length);
      const gpt2Tiny = writeGpt2Tiny();
      const hub = running.hub = await startLocalHub(writeHubVariants(gpt2Tiny));
      log(`local Hub at ${hub.host}`);
      const results = await runScenarios({ page, dir: resultsDir, extensionPath, workspace: ws, gpt2: gpt2Tiny, checkpoint: writeCheckpoint(), bigCheckpoint: writeCheckpoint('medium'), importedDir, only,
        gguf: writeGgufModel(tmp), tinyBert: importTinyBert(tmp), hub }, console.log, [...scenarios, ...lensScenarios, ...modelScenarios]);
      for (const r of results) {
        if (r.skipped) summary.skipped++;
        else if (r.ok) summary.passed++;
        else summary.failed++;
      }
      summary.lines.push(`UI scenarios: ${results.filter((r) => r.ok).length} passed, ${results.filter((r) => r.ok === false).length} failed, ${results.filter((r) => r.skipped).length} skipped`);
    }
  } catch (e) {
    summary.failed++;
    summary.lines.push(`harness error: ${e.stack ?? e.message}`);
    if (server) summary.lines.push(`code-server log tail:\n${server.log()}`);
  } finally {
    await stopAll();
    removeTmp();
  }
  for (const l of summary.lines) log(l);
  log(`screenshots in ${resultsDir}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}`);
  return summary.failed === 0 && summary.passed > 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`[e2e] ${e.stack ?? e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
