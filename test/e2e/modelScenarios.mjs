// UI scenarios for other kinds of model in the real workbench: a masked language model (the vendored tiny
// BERT, imported by the harness) and a Hub model whose variant is picked before it is downloaded (from a
// local stand-in for the Hub the harness serves). Each puts the built-in stories260K back when it ends.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setWorkspaceModel } from './lensScenarios.mjs';
import { check, hoverText, openModelPicker, showTab, useBuiltInModel, webviewWith } from './scenarios.mjs';
import { cursorToEnd, openFile, runCommand, screenshot } from './workbench.mjs';

// The tiny BERT was trained on stories like this one: the blank is a girl (see vendor/tiny-bert-stories).
const BLANK = 'Once upon a time, there was a little [MASK] named Lily.\n';
// Its words and punctuation (not [CLS], [SEP] or the blank): each one is masked in turn and scored.
const BLANK_WORDS = ['once', 'upon', 'a', 'time', ',', 'there', 'was', 'a', 'little', 'named', 'lily', '.'];

/** Files these scenarios expect in the workspace folder. */
export const modelWorkspaceFiles = { 'blank.txt': BLANK };

/** The Hub id the local stand-in serves (its repositories named local-* are folders the harness wrote). */
export const HUB_REPO = 'local-gpt2-variants';
const HUB_ID = `token-lens-test/${HUB_REPO}`;

/** What a Hub repository's variant costs to download, read from the served folder: the picker's size. */
const megabytes = (file) => `${(statSync(file).size / 2 ** 20).toFixed(1)} MB`;

async function candidates(frame, n) {
  return frame.locator('#next ol.cands li').evaluateAll((els, n) => els.slice(0, n).map((e) => ({
    text: e.querySelector('.cand-text')?.textContent, prob: parseFloat(e.querySelector('.prob')?.textContent ?? ''),
  })), n);
}

/** A notification (toast or centre) whose text matches `re`, the centre opened when toasts go straight there. */
async function notification(page, re, timeoutMs) {
  const item = page.locator('.notification-list-item', { hasText: re }).first();
  const deadline = Date.now() + timeoutMs;
  while (!(await item.isVisible())) {
    check(Date.now() < deadline, `no notification reads ${re}: ${(await page.locator('.notification-list-item').allTextContents()).join(' | ')}`);
    if (!(await page.locator('.notifications-center.visible').count())) await page.locator('.statusbar-item[id="status.notifications"]').click();
    await page.waitForTimeout(100);
  }
  return item;
}

export const modelScenarios = [
  {
    name: 'a masked language model (tiny BERT): Explain fills in [MASK] with "girl", the strip shows pseudo-losses, the hover the blank',
    shot: 'masked.png',
    skip: ({ tinyBert, workspace }) => (tinyBert && workspace ? false : 'the tiny BERT was not imported for this run'),
    async run({ page, dir, tinyBert, workspace }) {
      setWorkspaceModel(workspace, tinyBert);
      try {
        return await this.explainBlank({ page, dir });
      } finally {
        setWorkspaceModel(workspace, undefined);
      }
    },
    async explainBlank({ page, dir }) {
      await page.mouse.move(5, 5);
      await runCommand(page, 'View: Focus First Editor Group');
      await openFile(page, 'blank.txt');
      await cursorToEnd(page);
      // The settings file is read back by the workbench; the panel follows the next command.
      await page.waitForTimeout(1500);
      await runCommand(page, 'Token Lens: Explain Next Token');
      const frame = await webviewWith(page, '#next ol.cands .cand-text', 180_000);
      await frame.locator('.model-id', { hasText: 'tiny-bert-stories' }).waitFor({ timeout: 120_000 });
      await showTab(frame, 'distribution');
      // The panel opens on the blank, and its distribution is a fill-in, not a next token.
      await frame.locator('#next h2', { hasText: 'Fill in the blank' }).waitFor({ timeout: 30_000 });
      const selected = await frame.locator('#token-strip .tok.selected').textContent();
      check(selected === '[MASK]', `the panel opened on ${selected}, not on the blank`);
      check(/A blank: below is what the model fills in/.test(await frame.locator('#tokens .summary').textContent()),
        `summary: ${await frame.locator('#tokens .summary').textContent()}`);
      const top = await candidates(frame, 5);
      check(top[0]?.text === 'girl' && top[0].prob > 50, `fill-ins at the blank: ${JSON.stringify(top)}`);
      check(top.some((c) => c.text === 'boy'), `no "boy" among the first fill-ins: ${JSON.stringify(top)}`);
      // The pseudo-log-likelihood strip: every word is scored with itself masked; the blank and the
      // special tokens are not.
      const strip = await frame.locator('#token-strip .tok').evaluateAll((els) => els.map((e) => ({
        text: e.textContent, title: e.getAttribute('title') ?? '', heat: /\bheat-\d\b/.test(e.className) })));
      const scored = strip.filter((t) => / p = [\d.]+%/.test(t.title) && t.heat);
      check(JSON.stringify(scored.map((t) => t.text)) === JSON.stringify(BLANK_WORDS), `scored tokens: ${JSON.stringify(strip)}`);
      check(['[CLS]', '[MASK]', '[SEP]'].every((s) => strip.some((t) => t.text === s && !t.heat)), `specials: ${JSON.stringify(strip)}`);
      check(await frame.locator('#loss rect.loss-bar').count() === BLANK_WORDS.length, 'not one pseudo-loss bar per word');
      const labels = (await frame.locator('#loss .stat-label').allTextContents()).join(' | ');
      check(labels === 'Mean pseudo-loss | Pseudo-perplexity | Scored tokens', `the loss stats read "${labels}"`);
      // The teaching note that sets the two questions side by side.
      const note = frame.locator('vscode-collapsible[data-note=blank]');
      if (!(await note.evaluate((el) => el.open))) await note.click();
      await frame.locator('vscode-collapsible[data-note=blank][open]').waitFor({ timeout: 10_000 });
      check(/A masked model \(BERT\)[\s\S]*fills in the blank from the words on both sides/.test(await note.textContent()),
        `the note reads: ${await note.textContent()}`);
      await note.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      const path = await screenshot(page, dir, this.shot);
      // The hover over the blank in the editor: what the model fills in there, "girl" first.
      await runCommand(page, 'View: Focus First Editor Group');
      const hover = page.locator('.monaco-hover:visible', { hasText: 'what the model fills in' });
      await hoverText(page, '[MASK]', hover);
      const firstRow = await hover.locator('tbody tr').first().textContent();
      check(/girl/.test(firstRow ?? ''), `first hover row at the blank: ${firstRow}`);
      await screenshot(page, dir, 'masked-hover.png');
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      return path;
    },
  },
  {
    name: 'Select Model… → Hub id: the variants with their sizes, q8 picked, downloaded with progress, then Explain on it',
    shot: 'hub-variants.png',
    skip: ({ hub, workspace }) => (hub && workspace ? false : 'no local Hub was started for this run'),
    async run(ctx) {
      // The folder's settings point at the local Hub (and allow downloads); dtype sits there too, so the
      // picker writes the choice into this file, which is put back as it was.
      const file = join(ctx.workspace, '.vscode', 'settings.json');
      const before = readFileSync(file, 'utf8');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(before), 'tokenLens.offline': false, 'tokenLens.hubEndpoint': ctx.hub.host, 'tokenLens.dtype': 'auto' }, null, 2));
      try {
        return await this.pickAndExplain(ctx, file);
      } finally {
        // The settings first (a q8 dtype left in place would apply to the built-in model), then the model.
        writeFileSync(file, before);
        await ctx.page.waitForTimeout(1500);
        await useBuiltInModel(ctx.page);
      }
    },
    async pickAndExplain({ page, dir, hub }, settingsFile) {
      await page.waitForTimeout(1500);
      await openModelPicker(page);
      const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
      await page.locator('.quick-input-widget input').fill('Hugging Face Hub id');
      await rows.filter({ hasText: 'Hugging Face Hub id…' }).first().click({ timeout: 10_000 });
      await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Hugging Face Hub model id' }).waitFor({ timeout: 10_000 });
      await page.locator('.quick-input-widget input').fill(HUB_ID);
      await page.keyboard.press('Enter');
      // Every precision the repository holds, with the size of its file as served, before anything is downloaded.
      await page.locator('.quick-input-widget .quick-input-title', { hasText: `which variant of ${HUB_ID}` }).waitFor({ timeout: 30_000 });
      const onnx = join(hub.root, HUB_REPO, 'onnx');
      const expected = { fp32: 'model.onnx', fp16: 'model_fp16.onnx', q8: 'model_quantized.onnx', q4: 'model_q4.onnx' };
      for (const [precision, name] of Object.entries(expected)) {
        const row = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${precision}$`) }) }).first();
        await row.waitFor({ timeout: 10_000 });
        const text = await row.textContent();
        check(text.includes(`onnx/${name}, ${megabytes(join(onnx, name))}`), `the ${precision} row reads: ${text}`);
      }
      check(hub.requests.every((r) => !r.includes('/resolve/')), `files were downloaded before a variant was picked: ${hub.requests.join(', ')}`);
      const path = await screenshot(page, dir, this.shot);
      await rows.filter({ has: page.locator('.label-name', { hasText: /^q8$/ }) }).first().click();
      for (let i = 0; i < 40 && !JSON.parse(readFileSync(settingsFile, 'utf8'))['tokenLens.dtype']?.startsWith('q8'); i++) await page.waitForTimeout(250);
      check(JSON.parse(readFileSync(settingsFile, 'utf8'))['tokenLens.dtype'] === 'q8', 'the pick did not set tokenLens.dtype to q8');
      await page.locator('.statusbar-item', { hasText: HUB_REPO }).first().waitFor({ timeout: 30_000 });

      // Explain loads the model (an Explain panel left open loads it at once): the files arrive, paced by
      // the local Hub, with their progress shown.
      await runCommand(page, 'View: Focus First Editor Group');
      await openFile(page, 'prompt.txt');
      await cursorToEnd(page);
      await runCommand(page, 'Token Lens: Explain Next Token');
      await notification(page, /Token Lens: loading token-lens-test\/local-gpt2-variants: \S+ \d+%/, 60_000);
      await screenshot(page, dir, 'hub-download.png');
      await page.locator('.notifications-center .codicon-notifications-hide').first().click().catch(() => {});
      const frame = await webviewWith(page, '.dist-foot', 180_000);
      await showTab(frame, 'distribution');
      await frame.locator('.model-id', { hasText: HUB_ID }).waitFor({ timeout: 180_000 });
      const foot = frame.locator('.dist-foot', { hasText: 'of 50257 tokens' });
      try {
        await foot.waitFor({ timeout: 60_000 });
      } catch {
        throw new Error(`the panel does not show the Hub model: ${await frame.locator('.dist-foot').textContent()}`);
      }
      // Only the variant picked was fetched (twice when Explain cancelled a load the open panel had started).
      const fetched = [...new Set(hub.requests.filter((r) => r.startsWith('GET ') && r.endsWith('.onnx')))];
      check(JSON.stringify(fetched) === JSON.stringify([`GET /${HUB_ID}/resolve/main/onnx/model_quantized.onnx`]), `onnx files fetched: ${fetched.join(', ')}`);
      await page.mouse.move(5, 5);
      await page.waitForTimeout(300);
      await screenshot(page, dir, 'hub-explain.png');
      return path;
    },
  },
];
