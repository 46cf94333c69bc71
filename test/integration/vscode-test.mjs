// npm run test:vscode: the same extension-host suite in desktop VS Code through @vscode/test-electron,
// on machines that can download VS Code (CI here runs it inside code-server: npm run test:e2e).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { workspaceFiles } from '../e2e/scenarios.mjs';
import { root } from '../e2e/setup.mjs';
import { buildSuite } from './build.mjs';

const cache = join(root, '.cache', 'vscode-test');
const model = join(cache, 'models', 'stories260K');
if (!existsSync(join(model, 'config.json'))) {
  const src = join(root, 'vendor', 'stories260K');
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'import-llama2c', '--checkpoint', join(src, 'stories260K.bin'),
    '--tokenizer', join(src, 'tok512.bin'), '--out', model], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const workspace = mkdtempSync(join(tmpdir(), 'token-lens-vscode-'));
mkdirSync(join(workspace, '.vscode'));
writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'tokenLens.model': model, 'tokenLens.offline': true }));
for (const [file, text] of Object.entries(workspaceFiles)) writeFileSync(join(workspace, file), text);

try {
  await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: await buildSuite(),
    cachePath: cache,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (e) {
  console.error(`test:vscode: ${e?.message ?? e}`);
  console.error('(Downloading VS Code needs internet access; offline, run `npm run test:e2e`, which uses code-server.)');
  process.exitCode = 1;
} finally {
  rmSync(workspace, { recursive: true, force: true });
}
