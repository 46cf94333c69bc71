// UI scenarios in the real workbench, each ending in a screenshot under test-results/.
// They share one page and run in order: Explain loads the model, which the hover and the heatmap then use.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cursorToEnd, openFile, runCommand, screenshot, webviewFrame } from './workbench.mjs';

export const PROMPT = 'Once upon a time, there was a little girl named';
export const STORY = `${PROMPT} Lily. She liked to play outside.\n`;

const TRAIN = Array.from({ length: 40 }, (_, i) => `${STORY}She had a dog called Max number ${i % 7}. `
  + 'They went to the park and played with a red ball. At night Lily said thank you to her mom.\n').join('');

/** Files the scenarios (and the extension-host suite) expect in the workspace folder. */
// Text the model never saw: its surprise shows as colour in the heatmap.
const HELD_OUT = `${PROMPT} Lily. She liked to play outside with her dog.
One day the quantum compiler refused to parse her sandwich.
Lily laughed and said, "Let's go home and eat cake!"
`;
// Longer than stories260K's context: the heatmap scores it in strided windows, and typing at its end re-runs
// only the last one, from the first token that changed.
const TYPING = TRAIN.slice(0, 3000);
export const workspaceFiles = { 'prompt.txt': PROMPT, 'story.txt': STORY, 'train.txt': TRAIN, 'held-out.txt': HELD_OUT, 'typing.txt': TYPING };

/** The first webview frame that contains `selector` (the Explain panel and the Fine-tune view may both be open). */
export async function webviewWith(page, selector, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await page.locator('iframe.webview.ready').count();
    for (let i = 0; i < n; i++) {
      const frame = webviewFrame(page, i);
      if (await frame.locator(selector).count().catch(() => 0)) return frame;
    }
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Screen coordinates of the second character of `needle` in the active editor (Monaco splits long runs of text). */
async function textPoint(page, needle) {
  return page.evaluate((needle) => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor .view-lines');
    if (!editor) return null;
    for (const line of editor.querySelectorAll('.view-line')) {
      const nodes = [];
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
      // Monaco renders spaces as U+00A0.
      const text = nodes.map((n) => n.textContent).join('').replace(/\u00a0/g, ' ');
      let at = text.indexOf(needle);
      if (at < 0) continue;
      at += Math.min(1, needle.length - 1);
      for (const n of nodes) {
        if (at >= n.textContent.length) { at -= n.textContent.length; continue; }
        const r = document.createRange();
        r.setStart(n, at);
        r.setEnd(n, at + 1);
        const b = r.getBoundingClientRect();
        return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
      }
    }
    return null;
  }, needle);
}

/** Hovers the second character of `needle` in the active editor until `hover` shows (hover delay, a model loading). */
export async function hoverText(page, needle, hover) {
  for (let i = 0; i < 8; i++) {
    let p = null;
    for (let t = 0; t < 40 && !p; t++) p = (await textPoint(page, needle)) ?? (await page.waitForTimeout(250), null);
    check(p, `"${needle}" is not on screen`);
    await page.mouse.move(p.x - 40, p.y + 80);
    await page.mouse.move(p.x, p.y, { steps: 4 });
    try { await hover.waitFor({ timeout: 5_000 }); return; } catch { /* not yet */ }
  }
  await hover.waitFor({ timeout: 5_000 });
}

/** Waits until a heatmap decoration covers the second character of `needle` in the active editor. */
async function waitDecorated(page, needle, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await textPoint(page, needle);
    const covered = p && await page.evaluate(({ x, y }) => [...document.querySelectorAll(
      '.editor-group-container.active .monaco-editor [class*="ced-"]')].some((el) => {
      const r = el.getBoundingClientRect();
      return r.left <= x && x <= r.right && r.top <= y && y <= r.bottom;
    }), p);
    if (covered) return;
    check(Date.now() < deadline, `no heatmap colour on "${needle}" ${p ? '' : '(not on screen)'}`);
    await page.waitForTimeout(250);
  }
}

async function firstCandidates(frame, n = 3) {
  return frame.locator('#next ol.cands .cand-text').evaluateAll((els, n) => els.slice(0, n).map((e) => e.textContent), n);
}

export const scenarios = [
  {
    name: 'before a model is loaded, the hover says how to load one',
    shot: 'hover-no-model.png',
    async run({ page, dir }) {
      await openFile(page, 'story.txt');
      const hint = page.locator('.monaco-hover:visible', { hasText: 'to see its predictions here' });
      await hoverText(page, 'Lily', hint);
      check(await hint.locator('a', { hasText: 'Load' }).count() === 1, `no Load link in: ${await hint.textContent()}`);
      const path = await screenshot(page, dir, this.shot);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'palette -> Explain Next Token lists " Lily" first',
    shot: 'explain-panel.png',
    async run({ page, dir }) {
      await openFile(page, 'prompt.txt');
      await cursorToEnd(page);
      await runCommand(page, 'Token Lens: Explain Next Token');
      const frame = await webviewWith(page, '#next ol.cands .cand-text', 120_000);
      let top = [];
      for (let i = 0; i < 40 && top[0] !== '·Lily'; i++) {
        top = await firstCandidates(frame);
        if (top[0] !== '·Lily') await page.waitForTimeout(250);
      }
      check(top[0] === '·Lily', `first candidates in the panel: ${JSON.stringify(top)}`);
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);   // let the loss chart finish drawing
      const path = await screenshot(page, dir, this.shot);
      // The real host answers top-k 3 with the kept count the footer reads.
      await frame.locator('#ctl-topk input').fill('3');
      await frame.locator('#ctl-topk input').press('Enter');
      const foot = frame.locator('.dist-foot', { hasText: 'sampling keeps 3' });
      try {
        await foot.waitFor({ timeout: 15_000 });
      } catch {
        throw new Error(`the footer does not say what sampling keeps: ${await frame.locator('.dist-foot').textContent()}`);
      }
      check(/^Top 3 of 512 tokens hold 100% of the probability/.test(await foot.textContent()), await foot.textContent());
      await frame.locator('#ctl-reset').click();
      await frame.locator('.dist-foot', { hasText: 'Top 10 of 512' }).waitFor({ timeout: 15_000 });
      return path;
    },
  },
  {
    name: 'the Explain panel shows attention',
    shot: 'attention.png',
    async run({ page, dir }) {
      const frame = await webviewWith(page, '#attn');
      await frame.locator('vscode-tab-header[data-tab=attention]').click();
      const att = frame.locator('#attn');
      await att.waitFor({ timeout: 30_000 });
      await att.evaluate((el) => el.scrollIntoView({ block: 'start' }));
      const canvas = frame.locator('#attn .heatmap-wrap canvas');
      const notice = frame.locator('#attn .notice');
      try {
        await canvas.first().waitFor({ timeout: 60_000 });
      } catch {
        throw new Error(`no attention heatmap: ${(await notice.allTextContents()).join(' ') || 'nothing rendered'}`);
      }
      // Opening the tab draws the canvas again at the tab's width: read its box once it is settled.
      let box = null;
      for (let i = 0; i < 20 && !(box && box.width > 20); i++) box = await canvas.first().boundingBox().catch(() => null) ?? (await page.waitForTimeout(100), null);
      check(box && box.width > 20 && box.height > 20, `attention canvas is ${JSON.stringify(box)}`);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'Compare with… scores the held-out text under stories260K and its 8-bit variant',
    shot: 'compare.png',
    async run({ page, dir }) {
      // Focus the editors' group first: after the panel was clicked, quick open would put the file beside it.
      await page.mouse.move(5, 5);
      await runCommand(page, 'View: Focus First Editor Group');
      await openFile(page, 'held-out.txt');
      await cursorToEnd(page);
      await runCommand(page, 'Token Lens: Explain Next Token');
      const frame = await webviewWith(page, '#compare-with', 120_000);
      // The panel shows the held-out text (its last line is in the token strip) before comparing it.
      await frame.locator('#token-strip', { hasText: 'cake' }).waitFor({ timeout: 60_000 });
      // The panel keeps the tab chosen last (Attention, in the scenario before): Compare has its own.
      await showTab(frame, 'compare');
      await frame.locator('#compare-with').click();
      await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Compare with' }).waitFor({ timeout: 15_000 });
      const q8 = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'stories260K · q8' }).first();
      await q8.waitFor({ timeout: 10_000 });
      await q8.click();
      const chart = frame.locator('#delta-chart');
      await chart.waitFor({ timeout: 120_000 });
      const stats = await frame.locator('#compare-stats').textContent();
      const kl = Number(stats?.match(/Mean KL\(A‖B\)([\d.]+) nats/)?.[1]);
      check(kl > 0 && kl < 0.05, `mean KL of q8 against fp32: ${stats}`);
      check(/Top-1 agreement\d+\.\d%/.test(stats ?? ''), `no top-1 agreement in: ${stats}`);
      check(await frame.locator('#compare-strip-a .cmp-tok').count() > 20, 'strip A has no tokens');
      check(await frame.locator('#compare-strip-b .cmp-tok').count() === await frame.locator('#compare-strip-a .cmp-tok').count(), 'the strips differ');
      check(await frame.locator('#delta-chart rect.delta-bar').count() > 20, 'no Δloss bars');
      check(await frame.locator('#kl-chart rect.kl-bar').count() > 20, 'no KL bars');
      await frame.locator('#compare').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'the hover over "Lily" shows the top-k with " Lily" first',
    shot: 'hover.png',
    async run({ page, dir }) {
      await openFile(page, 'story.txt');
      const hover = page.locator('.monaco-hover:visible', { hasText: 'Explain from here' });
      await hoverText(page, 'Lily', hover);
      const firstRow = await hover.locator('tbody tr').first().textContent();
      check(firstRow?.includes('␣Lily'), `first hover row: ${firstRow}`);
      // The actual token and the link are on screen without scrolling the hover.
      const box = await hover.boundingBox();
      const link = await hover.locator('a', { hasText: 'Explain from here' }).boundingBox();
      check(box && link && link.y >= box.y && link.y + link.height <= box.y + box.height,
        `"Explain from here" is outside the hover: ${JSON.stringify({ box, link })}`);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'Toggle Loss Heatmap colours the tokens, and toggling again clears them',
    shot: 'heatmap.png',
    async run({ page, dir }) {
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await openFile(page, 'held-out.txt');
      // Range decorations with a background render as overlay divs whose class names start with "ced-".
      const decorated = page.locator('.editor-group-container.active .monaco-editor [class*="ced-"]');
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      await decorated.filter({ visible: true }).first().waitFor({ timeout: 60_000 });
      // Adjacent tokens of one colour bucket merge into one overlay, so count the legend too.
      const legend = page.locator('.statusbar-item', { hasText: 'mean loss' });
      await legend.first().waitFor({ timeout: 10_000 });
      check(await decorated.count() >= 1, 'no decorated ranges');
      check((await legend.first().textContent()).includes('top-4 · top-14 · top-54 · rest'), await legend.first().textContent());
      await page.waitForTimeout(300);
      const path = await screenshot(page, dir, this.shot);
      // The legend's tooltip paints a swatch per bucket in the heatmap's own theme colours.
      await legend.first().hover();
      const tip = page.locator('.monaco-hover:visible', { hasText: 'Token Lens loss heatmap' });
      await tip.waitFor({ timeout: 10_000 });
      const swatches = await tip.locator('span[style*="background-color"]').evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
      check(swatches.length === 4 && swatches.every((c) => c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent'), `swatches: ${JSON.stringify(swatches)}`);
      await screenshot(page, dir, 'heatmap-legend.png');
      await page.mouse.move(5, 5);
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      await page.waitForFunction(() => !document.querySelector('.editor-group-container.active .monaco-editor [class*="ced-"]'),
        null, { timeout: 10_000 });
      return path;
    },
  },
  {
    name: 'typing in a heatmapped file: the colours follow the new text',
    shot: 'heatmap-typing.png',
    async run({ page, dir }) {
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await openFile(page, 'typing.txt');
      const decorated = page.locator('.editor-group-container.active .monaco-editor [class*="ced-"]');
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      // Some decorations have no box (a line's first, empty-width render): wait for one that shows.
      await decorated.filter({ visible: true }).first().waitFor({ timeout: 60_000 });
      // The end of typing.txt, in the group that shows it (the Explain panel's group may hold other editors).
      await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
      await page.keyboard.press('Control+End');
      check((await page.locator('.tab.active[aria-label*="typing.txt"]').count()) >= 1, 'typing.txt is not the active editor');
      // Each word typed gets its colour; typing on before the last one settled drops the superseded work.
      for (const word of [' Zebra', ' quantum', ' pancakes']) {
        await page.keyboard.type(word, { delay: 30 });
        await waitDecorated(page, word.trim());
      }
      await page.keyboard.type('\nThe end', { delay: 30 });
      await waitDecorated(page, 'The end');
      await waitDecorated(page, 'pancakes');
      const path = await screenshot(page, dir, this.shot);
      await runCommand(page, 'Token Lens: Toggle Loss Heatmap');
      await page.waitForFunction(() => !document.querySelector('.editor-group-container.active .monaco-editor [class*="ced-"]'),
        null, { timeout: 10_000 });
      return path;
    },
  },
  {
    name: 'Toy Fine-tune: Stop while the model initialises unlocks the view; the next Start trains for 20 steps',
    shot: 'finetune.png',
    skip: ({ extensionPath }) => (existsSync(join(extensionPath, 'dist', 'webview', 'finetune.js')) ? false
      : 'dist/webview/finetune.js is not built'),
    async run({ page, dir }) {
      await openFile(page, 'train.txt');
      await runCommand(page, 'Token Lens: Focus on Toy Fine-tune View');
      const frame = await webviewWith(page, '#ft-start');
      await frame.locator('#ft-use-active').click();
      await frame.locator('#ft-file', { hasText: 'train.txt' }).waitFor({ timeout: 10_000 });
      // Stop during initialisation: the run ends and every control comes back. Initialising a toy model takes
      // well under a second, so Stop is pressed from inside the view the moment the status says so.
      const stopWhileInitialising = frame.locator('#app').evaluate(() => new Promise((resolve) => {
        const press = () => {
          if (!document.querySelector('#ft-status')?.textContent?.startsWith('Initialising')) return;
          observer.disconnect();
          document.querySelector('#ft-stop').click();
          resolve(document.querySelector('#ft-status').textContent);
        };
        const observer = new MutationObserver(press);
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      }));
      await frame.locator('#ft-start').click();
      check(/^Initialising/.test(await stopWhileInitialising), 'Stop was not pressed while initialising');
      // The host reports the stopped run: nothing was trained, and the view says so.
      await frame.locator('#app[data-phase="finished"]').waitFor({ timeout: 30_000 });
      const stopped = await frame.locator('#ft-status').textContent();
      check(/^Stopped before training started/.test(stopped ?? ''), `after Stop the status reads ${stopped}`);
      const disabled = (sel) => frame.locator(sel).evaluate((el) => el.disabled);
      check(!(await disabled('#ft-start')) && !(await disabled('#ft-steps')), 'the view stayed locked');
      check(await frame.locator('#ft-explain').count() === 0, 'an untrained model is offered');
      const steps = frame.locator('#ft-steps input');
      await steps.fill('20');
      await steps.press('Tab');
      await frame.locator('#ft-start').click();
      // The stopped run's "finished" stays until the host answers the new Start.
      await frame.locator('#app:not([data-phase="finished"])').waitFor({ timeout: 10_000 });
      await frame.locator('#app[data-phase="finished"], #app[data-phase="failed"]').waitFor({ timeout: 180_000 });
      const phase = await frame.locator('#app').getAttribute('data-phase');
      const error = await frame.locator('#app .error').allTextContents();
      check(phase === 'finished', `training ended ${phase}: ${error.join(' ')}`);
      const step = await frame.locator('#ft-stat-step .stat-value').textContent();
      check(step?.trim() === '20 / 20', `step counter reads ${step}`);
      // The compare lens, before against after: on the probe text and on the file's held-out part.
      await frame.locator('#ft-compare #ft-held-delta-chart').waitFor({ timeout: 30_000 });
      check(await frame.locator('#ft-compare #ft-probe-delta-chart rect.delta-bar').count() > 0, 'no Δloss bars for the probe text');
      check(/validation part of the file/.test(await frame.locator('#ft-compare').textContent() ?? ''), 'the held-out text is not the file\'s validation part');
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      return screenshot(page, dir, this.shot);
    },
  },
  {
    name: 'Clean Up Storage lists the trained run with its size, and deletes it',
    shot: 'cleanup.png',
    skip: ({ extensionPath }) => (existsSync(join(extensionPath, 'dist', 'webview', 'finetune.js')) ? false
      : 'needs the run of the Toy Fine-tune scenario'),
    async run({ page, dir }) {
      await page.keyboard.press('Escape');
      await runCommand(page, 'Token Lens: Clean Up Storage');
      const run = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Trained run: train-toy-' }).first();
      await run.waitFor({ timeout: 15_000 });
      // Other suites in this server leave runs too: every listed run, by name, with its folder on this machine.
      const texts = await page.locator('.quick-input-list .monaco-list-row').allTextContents();
      const runs = new Map();
      for (const t of texts) {
        // Label and size run together in the row's text ("…-1359071.7 MB"): the name is date-time exactly.
        const m = t.match(/Trained run: (train-toy-\d{8}-\d{6}(?:-\d+)?).*?(\/\S*\/trained\/train-toy-\d{8}-\d{6}(?:-\d+)?)/);
        if (m) {
          check(/\d+(\.\d)? (KB|MB)/.test(t), `no size on the row: ${t}`);
          runs.set(m[1], m[2]);
        }
      }
      check(runs.size > 0, `no trained run with its folder in: ${texts.join(' | ')}`);
      await run.click();
      await page.waitForTimeout(200);
      const path = await screenshot(page, dir, this.shot);
      await page.keyboard.press('Enter');
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.waitFor({ timeout: 10_000 });
      const question = (await dialog.textContent()) ?? '';
      // The run asked about is one of those listed, with a size, a checkpoint row and a folder on disk.
      const name = question.match(/Delete (train-toy-\d{8}-\d{6}(?:-\d+)?) \(\d/)?.[1];
      check(name && runs.has(name), `confirmation reads: ${question}`);
      const folder = runs.get(name);
      check(existsSync(folder), `the run's folder ${folder} is not on disk`);
      check(texts.filter((t) => t.includes(`Checkpoint only: ${name}`)).length === 1, `no checkpoint row for ${name}`);
      await dialog.locator('.dialog-buttons a, .dialog-buttons button', { hasText: /^Delete$/ }).first().click();
      for (let i = 0; i < 60 && existsSync(folder); i++) await page.waitForTimeout(250);
      check(!existsSync(folder), `${folder} is still there`);
      // Asked again, the run is gone from the list (other items may remain: the suites download a Hub model).
      await runCommand(page, 'Token Lens: Clean Up Storage');
      await page.waitForTimeout(1000);
      const rows = await page.locator('.quick-input-widget:visible .quick-input-list .monaco-list-row').allTextContents();
      check(!rows.some((r) => r.includes(name)), `the deleted run is still listed: ${rows.join(' | ')}`);
      // Toasts may go straight to the notification centre here: read the message there.
      await runCommand(page, 'Notifications: Show Notifications');
      const centre = page.locator('.notifications-center');
      await centre.locator('.notification-list-item', { hasText: /Freed \d+(\.\d)? (KB|MB) \(1 item deleted\)/ }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'Select Model… lists the built-in TinyStories model first, as the current one',
    shot: 'select-model.png',
    async run({ page, dir }) {
      await runCommand(page, 'Token Lens: Select Model…');
      // The palette's own list stays up until the model picker replaces it.
      await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Token Lens: Select Model' }).waitFor({ timeout: 10_000 });
      const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
      // The list fills in once the model stores are read. It may be longer than the picker shows (the list only
      // draws the rows on screen), so wait for the built-in's row itself, then check it comes first.
      await rows.filter({ hasText: 'Built-in: TinyStories (stories260K)' }).first().waitFor({ timeout: 20_000 });
      const first = await rows.first().textContent();
      check(first?.includes('Built-in: TinyStories (stories260K)'), `first row: ${first}`);
      check(await rows.first().locator('.codicon-check').count() === 1, 'the built-in model is not marked as the current one');
      const path = await screenshot(page, dir, this.shot);
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'Select Model… → Import a checkpoint…: a folder typed into the file dialog, Cancel on the progress stops it and leaves nothing',
    shot: 'import-cancelled.png',
    // A GPT-2-medium-sized checkpoint: its import lasts long enough for the Cancel to arrive on a busy machine.
    skip: ({ bigCheckpoint }) => (bigCheckpoint ? false : 'no checkpoint to import (bench/randomCheckpoint.ts did not run)'),
    async run(ctx) {
      try {
        return await this.importAndCancel(ctx);
      } finally {
        // An import that finished before its Cancel made its model the current one: later scenarios need the built-in.
        if (!(await ctx.page.locator('.statusbar-item', { hasText: 'stories260K' }).count())) await useBuiltInModel(ctx.page);
      }
    },
    async importAndCancel({ page, dir, bigCheckpoint, importedDir }) {
      // Models imported earlier in this server (by the extension-host suites) stay; nothing new may appear.
      const before = listing(importedDir);
      const added = () => listing(importedDir).filter((f) => !before.includes(f));
      await startImport(page, bigCheckpoint);
      const progress = await importProgress(page, basename(bigCheckpoint));
      await progress.locator('.monaco-button', { hasText: 'Cancel' }).first().click({ timeout: 5_000 });
      // The centre closes with its last item; the cancellation's message then arrives in it.
      const said = page.locator('.notifications-center .notification-list-item', { hasText: /Token Lens: .* cancelled\./ }).first();
      for (let i = 0; i < 60 && !(await said.isVisible()); i++) {
        if (!(await page.locator('.notifications-center').isVisible())) await page.locator('.statusbar-item[id="status.notifications"]').click();
        await page.waitForTimeout(500);
      }
      if (!(await said.isVisible())) {
        throw new Error(`no cancellation message: ${(await page.locator('.notification-list-item').allTextContents()).join(' | ')}`);
      }
      const path = await screenshot(page, dir, this.shot);
      // Nothing half-written is left, under the name the import would have used or a staging name.
      for (let i = 0; i < 40 && added().length; i++) await page.waitForTimeout(250);
      check(added().length === 0, `left in ${importedDir}: ${added().join(', ')}`);
      const model = await page.locator('.statusbar-item', { hasText: 'stories260K' }).count();
      check(model === 1, 'the model changed although the import was cancelled');
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'Select Model… → Import a checkpoint… shows progress, then Explain Next Token runs on the imported model',
    shot: 'import-explain.png',
    skip: ({ checkpoint }) => (checkpoint ? false : 'no checkpoint to import (bench/randomCheckpoint.ts did not run)'),
    async run({ page, dir, checkpoint, importedDir }) {
      try {
        return await this.importAndExplain({ page, dir, checkpoint, importedDir });
      } finally {
        // Later scenarios explain with the built-in model: put it back as a user would, through the picker.
        await useBuiltInModel(page);
      }
    },
    async importAndExplain({ page, dir, checkpoint, importedDir }) {
      await startImport(page, checkpoint);
      const progress = await importProgress(page);
      // The notification says which step the import is at.
      await progress.filter({ hasText: /Reading|Writing/ }).waitFor({ timeout: 30_000 });
      await screenshot(page, dir, 'import-progress.png');
      await progress.waitFor({ state: 'detached', timeout: 180_000 });
      await page.keyboard.press('Escape');
      const folder = join(importedDir, 'gpt2-small-hf');
      check(existsSync(join(folder, 'config.json')), `${folder} was not written`);
      // The imported model is now the current one: Explain runs on it (GPT-2's 50257-token vocabulary).
      await openFile(page, 'prompt.txt');
      await cursorToEnd(page);
      await runCommand(page, 'Token Lens: Explain Next Token');
      const frame = await webviewWith(page, '.dist-foot', 180_000);
      await showTab(frame, 'distribution');
      const foot = frame.locator('.dist-foot', { hasText: 'of 50257 tokens' });
      try {
        await foot.waitFor({ timeout: 180_000 });
      } catch {
        throw new Error(`the panel does not show the imported model: ${await frame.locator('.dist-foot').textContent()}`);
      }
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      const path = await screenshot(page, dir, this.shot);
      // Select Model lists it under "Imported checkpoints", as the current model.
      await runCommand(page, 'Token Lens: Select Model…');
      const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'gpt2-small-hf (gpt2, 12 layers)' });
      await row.first().waitFor({ timeout: 10_000 });
      check(await row.first().locator('.codicon-check').count() === 1, 'the imported model is not marked as the current one');
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'a GGUF model explains through llama.cpp; the attention section says llama.cpp does not expose attention',
    shot: 'gguf-explain.png',
    skip: ({ gguf }) => (gguf ? false : 'no GGUF model was written'),
    async run({ page, dir, workspace, gguf }) {
      // The folder's settings name the GGUF file; the window follows the file as a user's edit.
      const settingsFile = join(workspace, '.vscode', 'settings.json');
      const before = readFileSync(settingsFile, 'utf8');
      writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(before), 'tokenLens.model': gguf }, null, 2));
      try {
        // The editors' group first: quick open from the panel's group would explain the file shown there.
        await runCommand(page, 'View: Focus First Editor Group');
        await openFile(page, 'prompt.txt');
        await cursorToEnd(page);
        await runCommand(page, 'Token Lens: Explain Next Token');
        const frame = await webviewWith(page, '#next ol.cands .cand-text', 120_000);
        const model = frame.locator('.model-id', { hasText: '.gguf' });
        await model.waitFor({ timeout: 120_000 });
        check((await frame.locator('.model .badge').first().textContent()) === 'llama', 'the panel does not name the GGUF architecture');
        const top = await firstCandidates(frame);
        check(top[0] === '·Lily', `first candidates from llama.cpp: ${JSON.stringify(top)}`);
        // Attention has its own tab: it says what llama.cpp lacks instead of drawing a chart.
        await frame.locator('vscode-tab-header[data-tab=attention]').click();
        const note = frame.locator('#attn .notice', { hasText: 'llama.cpp does not expose attention' });
        await note.waitFor({ timeout: 30_000 });
        check(await frame.locator('#attn canvas').count() === 0, 'an attention chart is drawn for llama.cpp');
        await note.evaluate((el) => el.scrollIntoView({ block: 'center' }));
        await page.mouse.move(5, 5);
        await page.waitForTimeout(300);
        return await screenshot(page, dir, this.shot);
      } finally {
        writeFileSync(settingsFile, before);
      }
    },
  },
];

/** Brings a tab of the Explain panel to the front (the panel keeps the one chosen last). */
export async function showTab(frame, tab) {
  const header = frame.locator(`vscode-tab-header[data-tab=${tab}]`);
  await header.waitFor({ timeout: 30_000 });
  await header.click();
}

/** Select Model… → the built-in TinyStories model, waiting until the status bar names it. */
export async function useBuiltInModel(page) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Built-in: TinyStories (stories260K)' });
  // The picker fills its list after it opens (it looks through the model stores): on a busy machine it may be
  // slow, or close when a panel takes the focus back. Ask again rather than fail the scenarios after this one.
  for (let i = 0; ; i++) {
    await dismissDialogs(page);
    await runCommand(page, 'View: Focus First Editor Group');
    try {
      await openModelPicker(page);
      await row.first().click({ timeout: 20_000 });
      break;
    } catch (e) {
      if (i === 2) throw e;
    }
  }
  await page.locator('.statusbar-item', { hasText: 'stories260K' }).first().waitFor({ timeout: 60_000 });
}

/** Select Model…, once more if its list did not come up (on a busy machine it may take a while). */
export async function openModelPicker(page) {
  const title = page.locator('.quick-input-widget .quick-input-title', { hasText: 'Token Lens: Select Model' });
  for (let i = 0; i < 2 && !(await title.isVisible()); i++) {
    await runCommand(page, 'Token Lens: Select Model…');
    await title.waitFor({ timeout: 20_000 }).catch(() => {});
  }
  await title.waitFor({ timeout: 1_000 });
}

/** What the extension's imported/ folder holds. */
function listing(importedDir) {
  return existsSync(importedDir) ? readdirSync(importedDir) : [];
}

/** The import's progress notification, read in the notification centre (toasts may go straight there in this headless window). */
async function importProgress(page, name = 'gpt2-small-hf') {
  await page.locator('.statusbar-item[id="status.notifications"]').click();
  const item = page.locator('.notifications-center .notification-list-item', { hasText: `Token Lens: importing ${name}` });
  await item.first().waitFor({ timeout: 30_000 });
  return item.first();
}

/**
 * Select Model… → "Import a checkpoint…" → "Hugging Face model folder", then the folder typed into
 * code-server's file dialog (a quick input that takes a path) and accepted with its Import button.
 */
async function startImport(page, folder) {
  await runCommand(page, 'Token Lens: Select Model…');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  await rows.filter({ hasText: 'Import a checkpoint…' }).first().click({ timeout: 10_000 });
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Token Lens: Import a checkpoint' }).waitFor({ timeout: 10_000 });
  await rows.filter({ hasText: 'Hugging Face model folder' }).first().click({ timeout: 10_000 });
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'A Hugging Face model folder' }).waitFor({ timeout: 10_000 });
  const input = page.locator('.quick-input-widget input');
  // The dialog fills in its starting folder a moment after it opens: typing before that would be appended to it.
  await page.waitForFunction(() => document.querySelector('.quick-input-widget input')?.value, null, { timeout: 10_000 });
  for (let i = 0; i < 5; i++) {
    await input.fill(`${folder}/`);
    await page.waitForTimeout(200);
    if ((await input.inputValue()) === `${folder}/`) break;
  }
  check((await input.inputValue()) === `${folder}/`, `the file dialog holds ${await input.inputValue()}`);
  // Once the dialog has moved into the folder it lists only '..' (a folder dialog shows no files); its
  // Import button then takes the folder.
  await rows.filter({ hasText: '..' }).first().waitFor({ timeout: 15_000 });
  await page.locator('.quick-input-widget .monaco-button', { hasText: 'Import' }).first().click();
}

/** A modal dialog left by a failed scenario would block every later one. */
async function dismissDialogs(page) {
  for (let i = 0; i < 3 && await page.locator('.monaco-dialog-box').count(); i++) {
    await page.locator('.monaco-dialog-box .dialog-buttons a, .monaco-dialog-box .dialog-buttons button').first().click().catch(() => {});
    await page.waitForTimeout(200);
  }
  // The notification centre takes the first Escape; a quick input (a file dialog, a picker) left open the next.
  if (await page.locator('.notifications-center.visible').count()) {
    await page.locator('.notifications-center .codicon-notifications-hide').first().click().catch(() => {});
  }
  for (let i = 0; i < 3 && await page.locator('.quick-input-widget').isVisible(); i++) {
    await page.locator('.quick-input-widget input').first().focus().catch(() => {});
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
  }
  await page.keyboard.press('Escape');
}

/** Runs every scenario in order on one page; a failed one still leaves a screenshot (suffix -failed). */
export async function runScenarios(ctx, log = console.log, list = scenarios) {
  const results = [];
  // TOKEN_LENS_E2E_ONLY=compare runs the scenarios whose name or screenshot matches (while working on one).
  const only = process.env.TOKEN_LENS_E2E_ONLY ? new RegExp(process.env.TOKEN_LENS_E2E_ONLY, 'i') : undefined;
  for (const s of list.filter((x) => (!ctx.only || x.name.includes(ctx.only)) && (!only || only.test(x.name) || only.test(x.shot)))) {
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
