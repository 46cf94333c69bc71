// UI scenarios in the real workbench, each ending in a screenshot under test-results/.
// They share one page and run in order: Explain loads the model, which the hover and the heatmap then use.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cursorToEnd, openFile, runCommand, screenshot, webviewFrame } from './workbench.mjs';

export const PROMPT = 'Once upon a time, there was a little girl named';
export const STORY = `${PROMPT} Lily. She liked to play outside.\n`;

/** Files the scenarios (and the extension-host suite) expect in the workspace folder. */
export const workspaceFiles = { 'prompt.txt': PROMPT, 'story.txt': STORY };

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Screen coordinates of the middle of `needle` in the active editor's first line that contains it. */
async function textPoint(page, needle) {
  return page.evaluate((needle) => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor .view-lines')
      ?? document.querySelector('.monaco-editor .view-lines');
    const walker = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      // Monaco renders spaces as U+00A0.
      const i = n.textContent.replace(/\u00a0/g, ' ').indexOf(needle);
      if (i < 0) continue;
      const r = document.createRange();
      r.setStart(n, i);
      r.setEnd(n, i + needle.length);
      const b = r.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    }
    return null;
  }, needle);
}

async function firstCandidates(frame, n = 3) {
  return frame.locator('#next ol.cands .cand-text').evaluateAll((els, n) => els.slice(0, n).map((e) => e.textContent), n);
}

export const scenarios = [
  {
    name: 'palette -> Explain Next Token lists " Lily" first',
    shot: 'explain-panel.png',
    async run({ page, dir }) {
      await openFile(page, 'prompt.txt');
      await cursorToEnd(page);
      await runCommand(page, 'Token Lens: Explain Next Token');
      const frame = webviewFrame(page);
      await frame.locator('#next ol.cands .cand-text').first().waitFor({ timeout: 120_000 });
      let top = [];
      for (let i = 0; i < 40 && top[0] !== '·Lily'; i++) {
        top = await firstCandidates(frame);
        if (top[0] !== '·Lily') await page.waitForTimeout(250);
      }
      check(top[0] === '·Lily', `first candidates in the panel: ${JSON.stringify(top)}`);
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);   // let the loss chart finish drawing
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'the Explain panel shows attention',
    shot: 'attention.png',
    async run({ page, dir }) {
      const frame = webviewFrame(page);
      const att = frame.locator('#attn');
      await att.waitFor({ timeout: 30_000 });
      await att.scrollIntoViewIfNeeded();
      const canvas = frame.locator('#attn .heatmap-wrap canvas');
      const notice = frame.locator('#attn .notice');
      await canvas.or(notice).first().waitFor({ timeout: 60_000 });
      check(await canvas.count() > 0, `no attention heatmap: ${await notice.textContent().catch(() => '')}`);
      const box = await canvas.first().boundingBox();
      check(box && box.width > 20 && box.height > 20, `attention canvas is ${JSON.stringify(box)}`);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'the hover over "Lily" shows the top-k with " Lily" first',
    shot: 'hover.png',
    async run({ page, dir }) {
      await openFile(page, 'story.txt');
      const hover = page.locator('.monaco-hover:visible', { hasText: 'Next token here' });
      for (let i = 0; i < 8; i++) {
        let p = null;
        for (let t = 0; t < 40 && !p; t++) p = (await textPoint(page, 'Lily')) ?? (await page.waitForTimeout(250), null);
        check(p, '"Lily" is not on screen');
        await page.mouse.move(p.x - 40, p.y + 80);
        await page.mouse.move(p.x, p.y, { steps: 4 });
        try { await hover.waitFor({ timeout: 5_000 }); break; } catch { /* model still loading or hover delay */ }
      }
      await hover.waitFor({ timeout: 5_000 });
      const firstRow = await hover.locator('tbody tr').first().textContent();
      check(firstRow?.includes('␣Lily'), `first hover row: ${firstRow}`);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'Toggle Loss Heatmap colours the tokens, and toggling again clears them',
    shot: 'heatmap.png',
    async run({ page, dir }) {
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await openFile(page, 'story.txt');
      // Range decorations with a background render as overlay divs whose class names start with "ced-".
      const decorated = page.locator('.editor-group-container.active .monaco-editor [class*="ced-"]');
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      await decorated.first().waitFor({ timeout: 60_000 });
      const n = await decorated.count();
      check(n >= 10, `only ${n} decorated spans`);
      await page.waitForTimeout(300);
      const path = await screenshot(page, dir, this.shot);
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      await page.waitForFunction(() => !document.querySelector('.editor-group-container.active .monaco-editor [class*="ced-"]'),
        null, { timeout: 10_000 });
      return path;
    },
  },
  {
    name: 'the Toy Fine-tune view opens',
    shot: 'finetune.png',
    skip: ({ extensionPath }) => (existsSync(join(extensionPath, 'dist', 'webview', 'finetune.js')) ? false
      : 'dist/webview/finetune.js is not built yet'),
    async run({ page, dir }) {
      await runCommand(page, 'Token Lens: Focus on Toy Fine-tune View');
      const frame = webviewFrame(page);
      await frame.locator('body *').first().waitFor({ timeout: 30_000 });
      await page.waitForTimeout(500);
      return screenshot(page, dir, this.shot);
    },
  },
];

/** A modal dialog left by a failed scenario would block every later one. */
async function dismissDialogs(page) {
  for (let i = 0; i < 3 && await page.locator('.monaco-dialog-box').count(); i++) {
    await page.locator('.monaco-dialog-box .dialog-buttons a, .monaco-dialog-box .dialog-buttons button').first().click().catch(() => {});
    await page.waitForTimeout(200);
  }
  await page.keyboard.press('Escape');
}

/** Runs every scenario in order on one page; a failed one still leaves a screenshot (suffix -failed). */
export async function runScenarios(ctx, log = console.log) {
  const results = [];
  for (const s of scenarios) {
    const why = s.skip?.(ctx);
    if (why) { results.push({ name: s.name, skipped: why }); log(`skip - ${s.name}: ${why}`); continue; }
    const t0 = Date.now();
    try {
      await dismissDialogs(ctx.page);
      const shot = await s.run.call(s, ctx);
      results.push({ name: s.name, ok: true, ms: Date.now() - t0, shot });
      log(`ok - ${s.name} (${Date.now() - t0} ms) ${shot}`);
    } catch (e) {
      const shot = await screenshot(ctx.page, ctx.dir, s.shot.replace('.png', '-failed.png')).catch(() => undefined);
      results.push({ name: s.name, ok: false, ms: Date.now() - t0, error: e.message, shot });
      log(`not ok - ${s.name} (${Date.now() - t0} ms)\n  ${e.message.split('\n').join('\n  ')}${shot ? `\n  screenshot: ${shot}` : ''}`);
    }
  }
  return results;
}
