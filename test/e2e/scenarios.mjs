// UI scenarios in the real workbench, each ending in a screenshot under test-results/.
// They share one page and run in order: Explain loads the model, which the hover and the heatmap then use.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
async function webviewWith(page, selector, timeoutMs = 30_000) {
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

function check(cond, msg) {
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
async function hoverText(page, needle, hover) {
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
      await frame.locator('#ctl-topk').fill('3');
      await frame.locator('#ctl-topk').press('Enter');
      const foot = frame.locator('.dist-foot', { hasText: 'sampling keeps 3' });
      try {
        await foot.waitFor({ timeout: 15_000 });
      } catch {
        throw new Error(`the footer does not say what sampling keeps: ${await frame.locator('.dist-foot').textContent()}`);
      }
      check(/^Top 3 of 512 tokens hold 100% of the probability/.test(await foot.textContent()), await foot.textContent());
      await frame.locator('.controls button', { hasText: 'Reset' }).click();
      await frame.locator('.dist-foot', { hasText: 'Top 10 of 512' }).waitFor({ timeout: 15_000 });
      return path;
    },
  },
  {
    name: 'the Explain panel shows attention',
    shot: 'attention.png',
    async run({ page, dir }) {
      const frame = await webviewWith(page, '#attn');
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
      await decorated.first().waitFor({ timeout: 60_000 });
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
      await decorated.first().waitFor({ timeout: 60_000 });
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
      // Either the host reports the stopped run, or (Stop before the host started the job) no run at all.
      await frame.locator('#app[data-phase="finished"], #app[data-phase="idle"]').waitFor({ timeout: 30_000 });
      const stopped = await frame.locator('#ft-status').textContent();
      const phaseAfterStop = await frame.locator('#app').getAttribute('data-phase');
      check(phaseAfterStop === 'idle' || /^Stopped before training started/.test(stopped ?? ''), `after Stop the status reads ${stopped}`);
      check(!(await frame.locator('#ft-start').isDisabled()) && !(await frame.locator('#ft-steps').isDisabled()), 'the view stayed locked');
      check(await frame.locator('#ft-explain').count() === 0, 'an untrained model is offered');
      const steps = frame.locator('#ft-steps');
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
      await rows.filter({ hasText: 'Local model folder' }).first().waitFor({ timeout: 10_000 });
      const first = await rows.first().textContent();
      check(first?.includes('Built-in: TinyStories (stories260K)'), `first row: ${first}`);
      check(await rows.first().locator('.codicon-check').count() === 1, 'the built-in model is not marked as the current one');
      const path = await screenshot(page, dir, this.shot);
      await page.keyboard.press('Escape');
      return path;
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
