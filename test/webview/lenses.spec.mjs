// The Explain panel's tabs and its two lenses in a real browser (Chromium via playwright-core), under the production
// CSP, fed with the logit lens and attributions recorded from the real stories260K model (make-fixtures.ts).
// Run: node --import tsx --test test/webview/lenses.spec.mjs   (screenshots go to $TL_SHOTS or a temp dir)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protocol from '../../src/protocol/index.ts';
import { serveWebview } from './page.mjs';
import engines from '../../src/core/engines/engine.ts';

const { validateWebviewMessage } = protocol; // a CommonJS module under tsx
const { LLAMA_CPP_MISSING } = engines;

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'stories260K.json'), 'utf8'));
const shots = process.env.TL_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'token-lens-shots-'));
const lens = fixture.logitLens;
const T = fixture.analysis.tokens.length;
const attribution = (method, target = null, contrast = null) => fixture.attributions[`${method}|${target}|${contrast}|64`];
let web;

before(async () => {
  web = await serveWebview({ name: 'explain', title: 'Explain Next Token', stub: 'stub.js', fixture });
}, { timeout: 90_000 });

after(async () => {
  await web?.close();
});

/** Everything the webview posted must pass the host's validator; no CSP violation, no script error. */
async function checkClean(page, errors) {
  const posted = await page.evaluate(() => window.__posted);
  for (const m of posted) assert.ok(!(validateWebviewMessage(m) instanceof Error), JSON.stringify(m));
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  return posted;
}

const posted = (page, type) => page.evaluate((type) => window.__posted.filter((m) => m.type === type), type);
const visibleTab = (page) => page.evaluate(() => [...document.querySelectorAll('vscode-tab-panel')].find((p) => !p.hidden)?.dataset.tab);
const showToken = (t) => (t === '' ? '∅' : t.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍'));

test('five tabs in order; arrow keys and Enter switch them; a lens runs once when its tab opens', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  assert.deepEqual(await page.locator('vscode-tab-header').allTextContents(), ['Distribution', 'Attention', 'Logit lens', 'Attribution', 'Compare']);
  assert.equal(await visibleTab(page), 'distribution');
  // Nothing runs a lens before its tab opens.
  assert.deepEqual(await posted(page, 'requestLogitLens'), []);
  await page.locator('vscode-tab-header[data-tab=distribution]').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.locator('#lens-grid').waitFor();
  assert.equal(await visibleTab(page), 'logitLens');
  assert.equal(await page.locator('vscode-tab-header[data-tab=logitLens]').getAttribute('aria-selected'), 'true');
  // Back and forth: the lens of this text is kept, not asked for again.
  await page.locator('vscode-tab-header[data-tab=distribution]').click();
  await page.locator('vscode-tab-header[data-tab=logitLens]').click();
  await page.locator('#lens-grid').waitFor();
  assert.equal((await posted(page, 'requestLogitLens')).length, 1);
  // The Compare tab is there for its view to fill.
  await page.locator('vscode-tab-header[data-tab=compare]').click();
  await page.locator('#compare-with').waitFor();
  await checkClean(page, errors);
  await context.close();
});

test('logit lens: the grid is the recorded top-1 per block and position, shaded by probability, with the decision depth', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=logitLens]').click();
  await page.locator('#lens-grid').waitFor();
  const cells = await page.locator('.lens-cell').evaluateAll((els) => els.map((e) => ({
    layer: Number(e.dataset.layer), position: Number(e.dataset.position), text: e.textContent,
    p: Number(e.style.getPropertyValue('--p')), settles: e.classList.contains('settles'),
  })));
  assert.equal(cells.length, lens.layers * T);
  for (const c of cells) {
    const top1 = lens.top[c.layer][c.position][0];
    assert.equal(c.text, showToken(top1.text), `cell ${c.layer},${c.position}`);
    assert.ok(Math.abs(c.p - top1.prob) <= 0.0005, `shade of ${c.layer},${c.position}: ${c.p} vs ${top1.prob}`);
    assert.equal(c.settles, lens.decisionDepth[c.position] === c.layer, `decision depth mark at ${c.layer},${c.position}`);
  }
  // The output row comes first and is the model's own distribution: its last cell is the panel's top candidate.
  assert.equal(cells[0].layer, lens.layers - 1);
  assert.equal(lens.top[lens.layers - 1][T - 1][0].id, fixture.analysis.candidates[0].id);
  assert.deepEqual(await page.locator('.depth-row td.depth').allTextContents(), lens.decisionDepth.map(String));
  assert.match(await page.locator('.lens-summary').textContent(), new RegExp(`settles at block ${lens.decisionDepth[T - 1]} of ${lens.layers - 1}`));
  // A click shows that cell's top-k, as recorded.
  await page.locator('#ll-2-10').click();
  const expected = lens.top[2][10];
  await page.waitForFunction((n) => document.querySelectorAll('.lens-cand').length === n, expected.length);
  assert.deepEqual(await page.locator('.lens-cand .cand-text').allTextContents(), expected.map((c) => showToken(c.text)));
  assert.match(await page.locator('.lens-topk h3').textContent(), /^Block 2, after/);
  await checkClean(page, errors);
  await context.close();
});

test('logit lens by keyboard: one tab stop, arrows move the picked cell, the top-k follows; the state survives hide/show', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=logitLens]').click();
  await page.locator('#lens-grid').focus();
  await page.keyboard.press('Enter');
  // Enter picks the output row at the selected (last) position.
  await page.locator(`#ll-${lens.layers - 1}-${T - 1}.picked`).waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowLeft');
  await page.locator(`#ll-${lens.layers - 2}-${T - 2}.picked`).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'lens-grid');
  assert.equal(await page.locator('#lens-grid').getAttribute('aria-activedescendant'), `ll-${lens.layers - 2}-${T - 2}`);
  assert.deepEqual(await page.locator('.lens-cand .prob').count(), lens.top[lens.layers - 2][T - 2].length);
  // Hidden and shown again: the tab, the grid and the picked cell come back without asking the host.
  await page.goto(`${web.base}/?silent=1`);
  await page.locator(`#ll-${lens.layers - 2}-${T - 2}.picked`).waitFor();
  assert.equal(await visibleTab(page), 'logitLens');
  assert.deepEqual(await page.evaluate(() => window.__posted), [{ type: 'ready' }]);
  await checkClean(page, errors);
  await context.close();
});

test('logit lens on a model without hidden states: one note, no grid', async () => {
  const { page, context, errors } = await web.open('variant=nolens', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=logitLens]').click();
  await page.locator('#lens .notice').waitFor();
  assert.match(await page.locator('#lens .notice').textContent(), /^No logit lens: .*does not output/);
  assert.equal(await page.locator('#lens-grid').count(), 0);
  await checkClean(page, errors);
  await context.close();
});

test('attribution: tokens shaded by the raw score\'s sign and size; method, target and contrast ask the host again', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=attribution]').click();
  await page.locator('#attr-strip').waitFor();
  assert.deepEqual((await posted(page, 'requestAttribution'))[0], { type: 'requestAttribution', method: 'occlusion', target: null, contrast: null, steps: 64 });
  const occ = attribution('occlusion');
  const max = Math.max(...occ.scores.map(Math.abs));
  const toks = await page.locator('.attr-tok').evaluateAll((els) => els.map((e) => ({
    text: e.textContent, pos: e.classList.contains('pos'), a: Number(e.style.getPropertyValue('--a')), score: Number(e.dataset.score) })));
  assert.equal(toks.length, T);
  toks.forEach((t, i) => {
    assert.equal(t.score, occ.scores[i]);
    assert.equal(t.pos, occ.scores[i] >= 0, `sign of #${i}`);
    assert.ok(Math.abs(t.a - Math.abs(occ.scores[i]) / max) <= 0.0005, `shade of #${i}`);
  });
  assert.match(await page.locator('.attr-summary').textContent(), new RegExp(`log p\\(“${showToken(occ.target.text)}”\\) = ${occ.value.toFixed(3)}`));
  // Keyboard: the strip reads out one token's raw score at a time.
  await page.locator('#attr-strip').focus();
  await page.keyboard.press('Home');
  await page.waitForFunction(() => document.querySelector('#attr-readout')?.textContent?.startsWith('#0 '));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'attr-strip');
  // The method select by keyboard (VS Code Elements: Space opens, arrows move, Enter picks): gradient × input.
  await page.locator('#attr-method').focus();
  await page.keyboard.press('Space');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.method === 'gradient');
  await page.waitForFunction(() => document.querySelector('.attr-summary')?.textContent?.startsWith('Gradient'));
  const grad = attribution('gradient');
  assert.deepEqual(await page.locator('.attr-tok').evaluateAll((els) => els.map((e) => Number(e.dataset.score))), grad.scores);
  // Integrated gradients: the steps slider appears and the summary shows completeness.
  await page.locator('#attr-method').evaluate((el) => { el.value = 'integrated-gradients'; el.dispatchEvent(new Event('change')); });
  await page.locator('#attr-steps').waitFor();
  const ig = attribution('integrated-gradients');
  await page.waitForFunction(() => /From the baseline/.test(document.querySelector('.attr-summary')?.textContent ?? ''));
  const sum = ig.scores.reduce((s, x) => s + x, 0);
  assert.match(await page.locator('.attr-summary').textContent(), new RegExp(`add up to ${sum.toFixed(3)}, f\\(text\\) − f\\(baseline\\) = ${(ig.value - ig.baselineValue).toFixed(3)}`));
  assert.ok(Math.abs(sum - (ig.value - ig.baselineValue)) <= 0.01 * Math.abs(ig.value - ig.baselineValue), 'completeness of the recorded scores');
  // Back to occlusion, then a contrast from the candidates: f becomes a logit difference.
  await page.locator('#attr-method').evaluate((el) => { el.value = 'occlusion'; el.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => window.__posted.at(-1)?.method === 'occlusion');
  const second = occ.candidates[1];
  await page.locator('#attr-contrast').evaluate((el, id) => { el.value = String(id); el.dispatchEvent(new Event('change')); }, second.id);
  await page.waitForFunction((id) => window.__posted.at(-1)?.contrast === id, second.id);
  const contrasted = attribution('occlusion', null, second.id);
  await page.waitForFunction(() => /logit\(/.test(document.querySelector('.attr-summary')?.textContent ?? ''));
  assert.match(await page.locator('.attr-summary').textContent(), new RegExp(`− logit\\(“${showToken(second.text)}”\\) = ${contrasted.value.toFixed(3)}`));
  // The target options are the candidates after the text, the top-1 first.
  assert.deepEqual(await page.locator('#attr-target vscode-option').evaluateAll((els) => els.map((e) => Number(e.getAttribute('value')))),
    occ.candidates.map((c) => c.id));
  await checkClean(page, errors);
  await context.close();
});

test('attribution by keyboard: integrated gradients from the method select, then its steps on the slider and in the field', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=attribution]').click();
  await page.locator('#attr-strip').waitFor();
  await page.locator('#attr-method').focus();
  for (const key of ['Space', 'ArrowDown', 'ArrowDown', 'Enter']) await page.keyboard.press(key);
  await page.waitForFunction(() => window.__posted.at(-1)?.method === 'integrated-gradients');
  await page.waitForFunction(() => /From the baseline/.test(document.querySelector('.attr-summary')?.textContent ?? ''));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'attr-method');
  // Right on the slider: 8 steps more, asked for at once; the field beside it shows the count.
  await page.locator('#attr-steps').focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => window.__posted.at(-1)?.steps === 72);
  assert.deepEqual(await page.evaluate(() => window.__posted.at(-1)),
    { type: 'requestAttribution', method: 'integrated-gradients', target: null, contrast: null, steps: 72 });
  assert.equal(await page.locator('#attr-steps-value').evaluate((el) => el.value), '72');
  assert.equal(await page.locator('#attr-steps').getAttribute('aria-valuetext'), '72 steps');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'attr-steps');
  // A count typed into the field is put on the slider's steps of 8 before it is asked for.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'attr-steps-value');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('130');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.steps === 128);
  assert.equal(await page.locator('#attr-steps').inputValue(), '128');
  await checkClean(page, errors);
  await context.close();
});

test('attribution on an engine without gradients (llama.cpp, a server): the method select offers occlusion only, with the engine\'s note', async () => {
  const note = LLAMA_CPP_MISSING.gradients;
  // With gradients: three methods, no note; gradient × input is picked.
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=attribution]').click();
  await page.locator('#attr-strip').waitFor();
  assert.equal(await page.locator('#attr-method vscode-option').count(), 3);
  assert.equal(await page.locator('.attr-methods-note').count(), 0);
  await page.locator('#attr-method').evaluate((el) => { el.value = 'gradient'; el.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => document.querySelector('.attr-summary')?.textContent?.startsWith('Gradient'));
  // The panel comes back on an engine without gradients (its saved state asked for gradient × input): occlusion only.
  const url = new URL(page.url());
  url.searchParams.set('gradientsNote', note);
  await page.goto(url.href);
  await page.locator('.attr-methods-note').waitFor();
  assert.deepEqual(await page.locator('#attr-method vscode-option').evaluateAll((els) => els.map((e) => e.getAttribute('value'))), ['occlusion']);
  assert.equal(await page.locator('.attr-methods-note').textContent(), `Occlusion only: ${note}.`);
  await page.waitForFunction(() => document.querySelector('.attr-summary')?.textContent?.startsWith('Occlusion'));
  assert.deepEqual((await posted(page, 'requestAttribution')).map((m) => m.method), ['occlusion']);
  assert.deepEqual(await page.locator('.attr-tok').evaluateAll((els) => els.map((e) => Number(e.dataset.score))), attribution('occlusion').scores);
  await checkClean(page, errors);
  await context.close();
});

test('attribution in progress can be cancelled, and run again', async () => {
  const { page, context, errors } = await web.open('hold=attribution', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.locator('vscode-tab-header[data-tab=attribution]').click();
  await page.locator('.lens-cancel').waitFor();
  assert.equal(await page.locator('#attrib [role=status]').count(), 1);
  await page.locator('.lens-cancel').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.type === 'cancelLens');
  await page.locator('.lens-run').waitFor();
  assert.match(await page.locator('#attrib .lens-status').textContent(), /Cancelled/);
  await page.locator('.lens-run').click();
  await page.waitForFunction(() => window.__posted.filter((m) => m.type === 'requestAttribution').length === 2);
  await checkClean(page, errors);
  await context.close();
});

test('the host can bring the Attribution tab forward ("Why This Token?"): it runs for the top-1', async () => {
  const { page, context, errors } = await web.open('', { width: 1200, height: 1000 });
  await page.locator('.cand').first().waitFor();
  await page.evaluate(() => window.postMessage({ type: 'showTab', tab: 'attribution' }, '*'));
  await page.locator('#attr-strip').waitFor();
  assert.equal(await visibleTab(page), 'attribution');
  assert.deepEqual((await posted(page, 'requestAttribution')).map((m) => m.target), [null]);
  assert.match(await page.locator('#attr-target').evaluate((el) => el.value), new RegExp(`^${fixture.analysis.candidates[0].id}$`));
  await checkClean(page, errors);
  await context.close();
});

test('screenshots of both lenses in dark and light', async () => {
  for (const [theme, body] of [['dark', 'vscode-dark'], ['light', 'vscode-light']]) {
    const { page, context, errors } = await web.open(`theme=${theme}&body=${body}`, { width: 1200, height: 900 });
    await page.locator('.cand').first().waitFor();
    await page.locator('vscode-tab-header[data-tab=logitLens]').click();
    await page.locator('#ll-3-20').click();
    await page.locator('.lens-cand').first().waitFor();
    await page.screenshot({ path: path.join(shots, `logit-lens-${theme}.png`), fullPage: true });
    await page.locator('vscode-tab-header[data-tab=attribution]').click();
    await page.locator('#attr-strip').waitFor();
    await page.screenshot({ path: path.join(shots, `attribution-${theme}.png`), fullPage: true });
    await checkClean(page, errors);
    await context.close();
  }
  console.log(`screenshots: ${shots}`);
});
