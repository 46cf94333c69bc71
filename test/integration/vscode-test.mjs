// npm run test:vscode: the same extension-host suite in desktop VS Code through @vscode/test-electron,
// on machines that can download VS Code (CI here runs it inside code-server: npm run test:e2e). Like a fresh
// install, it sets no tokenLens.model: the suite runs on the built-in stories260K (`npm run build` first).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { workspaceFiles } from '../e2e/scenarios.mjs';
import { root } from '../e2e/setup.mjs';
import { buildSuite } from './build.mjs';

const cache = join(root, '.cache', 'vscode-test');
const workspace = mkdtempSync(join(tmpdir(), 'token-lens-vscode-'));
mkdirSync(join(workspace, '.vscode'));
writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'tokenLens.offline': true }));
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
