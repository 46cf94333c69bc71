// UI scenarios for the lenses in the real workbench: "Why This Token?" from the editor's context menu and the
// palette, the Attribution and Logit lens tabs, first on the built-in stories260K, then on a GPT-2-family model
// (random weights, GPT-2's real BPE) set through the workspace's settings. Screenshots under test-results/.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, useBuiltInModel, webviewWith } from './scenarios.mjs';
import { cursorToEnd, openFile, runCommand, screenshot } from './workbench.mjs';

/** The Attribution tab's strip once the host answered for `model` (the panel's header names it). */
async function attributionFor(page, model) {
  const frame = await webviewWith(page, '#attr-strip', 180_000);
  const header = frame.locator('.model-id', { hasText: model });
  await header.waitFor({ timeout: 120_000 });
  await frame.locator('#attr-strip').waitFor({ timeout: 120_000 });
  await frame.locator('.attr-summary', { hasText: 'f =' }).waitFor({ timeout: 60_000 });
  return frame;
}

/** Opens the Logit lens tab and picks a cell; returns the number of blocks the grid shows. */
async function logitLensGrid(frame) {
  await frame.locator('vscode-tab-header[data-tab=logitLens]').click();
  const grid = frame.locator('#lens-grid');
  try {
    await grid.waitFor({ timeout: 120_000 });
  } catch {
    throw new Error(`no logit lens grid: ${(await frame.locator('#lens').textContent()) ?? ''}`);
  }
  const rows = await frame.locator('#lens-grid tbody tr:not(.depth-row)').count();
  const cells = await frame.locator('.lens-cell').count();
  check(rows > 0 && cells % rows === 0, `${rows} rows, ${cells} cells`);
  check(await frame.locator('.lens-cell.settles').count() === cells / rows, 'not one decision-depth mark per position');
  await frame.locator('.lens-cell').nth(Math.floor(cells / 2)).click();
  await frame.locator('.lens-cand').first().waitFor({ timeout: 10_000 });
  return rows;
}

/** Writes the workspace's tokenLens.model (undefined: removes it); the extension follows the settings file. */
export function setWorkspaceModel(workspace, ref) {
  const file = join(workspace, '.vscode', 'settings.json');
  const settings = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (ref === undefined) delete settings['tokenLens.model'];
  else settings['tokenLens.model'] = ref;
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

export const lensScenarios = [
  {
    name: 'editor context menu -> Why This Token? opens Attribution for " Lily" (stories260K)',
    shot: 'attribution.png',
    async run({ page, dir }) {
      // Whatever an earlier scenario left, this one explains with the built-in model.
      await useBuiltInModel(page);
      // Room for the panel beside the editor: the side bar (left open by earlier scenarios) closes.
      await runCommand(page, 'View: Close Primary Side Bar');
      await openFile(page, 'prompt.txt');
      await cursorToEnd(page);
      // Shift+F10 opens the editor's context menu at the cursor (a right click would move the cursor).
      await page.keyboard.press('Shift+F10');
      const item = page.locator('.monaco-menu .action-label', { hasText: 'Why This Token?' });
      await item.first().waitFor({ timeout: 10_000 });
      // A click that lands while the menu is still settling leaves it open: click again until the menu closes.
      for (let i = 0; i < 4 && await item.first().isVisible(); i++) {
        await item.first().click({ timeout: 5_000 }).catch(() => {});
        await item.first().waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => {});
      }
      check(!(await item.first().isVisible()), 'the context menu stayed open after clicking "Why This Token?"');
      const frame = await attributionFor(page, 'stories260K');
      const target = await frame.locator('#attr-target').evaluate((el) => el.shadowRoot?.textContent ?? el.textContent);
      check(/·Lily/.test(target), `the target is not " Lily": ${target}`);
      const scored = await frame.locator('.attr-tok').count();
      check(scored >= 12, `${scored} tokens scored`);
      check(/log p\(“·Lily”\)/.test(await frame.locator('.attr-summary').textContent()), await frame.locator('.attr-summary').textContent());
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'the Logit lens tab shows one row per block with the decision depth (stories260K)',
    shot: 'logit-lens.png',
    async run({ page, dir }) {
      const frame = await webviewWith(page, '#lens');
      const rows = await logitLensGrid(frame);
      check(rows === 5, `${rows} blocks, stories260K has 5`);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'on a GPT-2-family model (random weights, GPT-2 BPE): Why This Token? and the logit lens',
    shot: 'attribution-gpt2.png',
    skip: ({ gpt2, workspace }) => (gpt2 && workspace ? false : 'no GPT-2-family model written for this run'),
    async run({ page, dir, gpt2, workspace }) {
      setWorkspaceModel(workspace, gpt2);
      try {
        await openFile(page, 'prompt.txt');
        await cursorToEnd(page);
        // The settings file is read back by the workbench; the panel follows the next command.
        await page.waitForTimeout(1500);
        await runCommand(page, 'Token Lens: Why This Token?');
        const frame = await attributionFor(page, basename(gpt2));
        const scored = await frame.locator('.attr-tok').count();
        check(scored === 11, `${scored} tokens scored: GPT-2's BPE cuts the prompt into 11`);
        await page.mouse.move(5, 5);
        await page.waitForTimeout(300);
        const shot = await screenshot(page, dir, this.shot);
        const rows = await logitLensGrid(frame);
        check(rows === 2, `${rows} blocks, the model has 2`);
        await page.waitForTimeout(300);
        await screenshot(page, dir, 'logit-lens-gpt2.png');
        return shot;
      } finally {
        setWorkspaceModel(workspace, undefined);
      }
    },
  },
];
