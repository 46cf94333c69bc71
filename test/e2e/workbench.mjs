// Drives the code-server workbench in headless Chromium: the extension-host test payload, the command
// palette, quick open, editor text and webview frames.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumPath } from './setup.mjs';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A fresh Chromium profile; close() also removes it. */
export async function launchBrowser({ viewport = { width: 1600, height: 1000 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'token-lens-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, viewport, timeout: 60_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  // A browser that does not close within 15 s is left to the process group's end rather than waited on.
  const close = async () => {
    await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 15_000).unref())]);
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/**
 * Opens a workbench URL carrying an extensionTestsPath payload and resolves with the suite's exit code
 * and log lines (the smoke-test driver reports through window.codeAutomationExit / codeAutomationLog).
 */
export async function runExtensionHostSuite(context, url, { timeoutMs = 240_000, onLog = () => {} } = {}) {
  const page = await context.newPage();
  const lines = [];
  let resolveExit;
  const exited = new Promise((r) => { resolveExit = r; });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = Array.isArray(args) ? args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') : String(args ?? type);
    lines.push(line);
    onLog(line);
  });
  await page.exposeFunction('codeAutomationExit', (code) => { resolveExit(code); });
  await page.goto(url);
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
  const code = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  await page.close().catch(() => {});
  return { code, lines };
}

/** Opens the workbench on a folder and waits until the editor area and the extension host are up. */
export async function openWorkbench(context, url) {
  const page = await context.newPage();
  // On a busy machine the first load of the workbench's scripts can take longer than the default 30 s.
  await page.goto(url, { timeout: 120_000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.statusbar').waitFor({ timeout: 60_000 });
  return page;
}

/** F1, type the command title, Enter. Retries: on a fresh profile the first palette may lack the command. */
export async function runCommand(page, title, { attempts = 6 } = {}) {
  for (let i = 0; i < attempts; i++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ timeout: 3_000 });
      await row.click();
      return;
    } catch { await page.waitForTimeout(1_000); }
  }
  throw new Error(`command "${title}" never appeared in the palette`);
}

/** Quick open (Ctrl+P) a workspace file by name and wait for its editor. */
export async function openFile(page, name) {
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(name);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
    try {
      await row.waitFor({ timeout: 5_000 });
      await row.click();
      // The file is the active tab of the active group (a tab of it elsewhere proves nothing).
      await page.locator(`.editor-group-container.active .tab.active[aria-label*="${name}"]`).first().waitFor({ timeout: 10_000 });
      await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().waitFor({ timeout: 10_000 });
      return;
    } catch { await page.waitForTimeout(1_000); }
  }
  throw new Error(`could not open ${name}`);
}

/** Puts the cursor at the end of the active editor's text. */
export async function cursorToEnd(page) {
  // The active group's editor: the first editor on the page may belong to another group.
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
}

/** The content frame of the visible webview (panel or view). */
export function webviewFrame(page, nth = 0) {
  return page.frameLocator('iframe.webview.ready').nth(nth).frameLocator('#active-frame');
}

export async function screenshot(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  await page.screenshot({ path });
  return path;
}
