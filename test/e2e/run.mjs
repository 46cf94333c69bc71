// The real-VS-Code run: package + install the extension (or point at the repo with --dev), import stories260K
// with the CLI, start one code-server, run the extension-host suite, then the UI scenarios; always stop it.
// Assumes `npm run build` ran. Usage: node test/e2e/run.mjs [--dev] [--no-suite] [--suite=NAME] [--no-ui] [--keep] [--verbose]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageTargets } from '../../scripts/package.mjs';
import { buildSuite } from '../integration/build.mjs';
import { installExtension, makeProfile, startCodeServer, workbenchUrl } from './codeServer.mjs';
import { runScenarios, workspaceFiles } from './scenarios.mjs';
import { cacheDir, root, setup } from './setup.mjs';
import { launchBrowser, openWorkbench, runExtensionHostSuite } from './workbench.mjs';

const argv = new Set(process.argv.slice(2));
const onlySuite = process.argv.find((a) => a.startsWith('--suite='))?.slice('--suite='.length);
const EXTENSION_ID = 'token-lens.token-lens';
const resultsDir = join(root, 'test-results');
const log = (msg) => console.log(`[e2e] ${msg}`);

/** stories260K as a model folder, imported by the CLI; redone whenever dist/cli.js is newer. */
function importModel() {
  const out = join(cacheDir, 'models', 'stories260K');
  const cli = join(root, 'dist', 'cli.js');
  const marker = join(out, '.imported');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(cli).mtimeMs) return out;
  const src = join(root, 'vendor', 'stories260K');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const args = [cli, 'import-llama2c', '--checkpoint', join(src, 'stories260K.bin'), '--tokenizer', join(src, 'tok512.bin'), '--out', out];
  log(`$ node ${args.map((a) => a.replace(root + '/', '')).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`import-llama2c exited with ${r.status ?? r.signal}`);
  writeFileSync(marker, new Date().toISOString());
  return out;
}

/** The model settings go in the folder too: once, the first window of a fresh server ran without the user value. */
function makeWorkspace(parent, name, settings) {
  const dir = join(parent, name);
  mkdirSync(join(dir, '.vscode'), { recursive: true });
  if (settings) writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  for (const [file, text] of Object.entries(workspaceFiles)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Extension-host suites, each in its own window; each logs its lines with its prefix. */
const SUITES = [
  { name: 'suite', entry: 'test/integration/index.ts', prefix: '[suite] ' },
  // glue.ts changes tokenLens.* at user level, which a folder value would hide: it gets the user settings only.
  { name: 'glue', entry: 'test/integration/glue.ts', prefix: '[glue] ', userSettingsOnly: true },
  { name: 'shapes', entry: 'test/integration/textShapes.ts', prefix: '[shapes] ' },
].filter((s) => existsSync(join(root, s.entry)) && (!onlySuite || s.name === onlySuite));

function countSuite(lines, prefix) {
  const closing = lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).match(/^(\d+) passed, (\d+) failed$/)).filter(Boolean).pop();
  return { passed: closing ? Number(closing[1]) : 0, failed: closing ? Number(closing[2]) : 0 };
}

async function main() {
  const t0 = Date.now();
  for (const f of ['dist/extension.js', 'dist/cli.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  }
  setup();
  // Screenshots of failures belong to this run only.
  if (existsSync(resultsDir)) for (const f of readdirSync(resultsDir)) if (f.endsWith('-failed.png')) rmSync(join(resultsDir, f));
  const model = importModel();
  const tmp = mkdtempSync(join(tmpdir(), 'token-lens-e2e-'));
  const modelSettings = { 'tokenLens.model': model, 'tokenLens.offline': true };
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
  const suites = argv.has('--no-suite') ? [] : await Promise.all(SUITES.map(async (s) => ({
    ...s, js: await buildSuite(join(root, s.entry), join(root, 'out', 'integration', `${s.name}.js`)),
  })));

  const summary = { passed: 0, failed: 0, skipped: 0, lines: [] };
  let server;
  let browser;
  try {
    server = await startCodeServer({ profile });
    log(`code-server at ${server.url} (pid ${server.pid}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = await launchBrowser();

    for (const suite of suites) {
      const url = workbenchUrl(server.url, { folder: makeWorkspace(tmp, suite.name, suite.userSettingsOnly ? undefined : modelSettings), extensionDevelopmentPath: extensionPath, extensionTestsPath: suite.js });
      const { code, lines } = await runExtensionHostSuite(browser.context, url, {
        onLog: (l) => { if (l.startsWith(suite.prefix) || argv.has('--verbose')) console.log(`  ${l}`); },
      });
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, `extension-host-${suite.name}.log`), lines.join('\n') + '\n');
      const c = countSuite(lines, suite.prefix);
      summary.passed += c.passed;
      summary.failed += c.failed;
      if (code !== 0 && c.failed === 0) summary.failed++;   // crashed or timed out before reporting
      summary.lines.push(`extension-host ${suite.entry}: exit ${code}, ${c.passed} passed, ${c.failed} failed`);
    }

    if (!argv.has('--no-ui')) {
      const ws = makeWorkspace(tmp, 'ui', modelSettings);
      const url = workbenchUrl(server.url, { folder: ws, extensionDevelopmentPath: argv.has('--dev') ? extensionPath : undefined });
      const page = await openWorkbench(browser.context, url);
      const results = await runScenarios({ page, dir: resultsDir, extensionPath });
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
    await browser?.close();
    await server?.stop();
    if (!argv.has('--keep')) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
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
