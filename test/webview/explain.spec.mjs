// The Explain panel in a real browser (Chromium via playwright-core), under the production CSP, fed with
// messages recorded from the real stories260K model (test/webview/fixtures, see make-fixtures.ts).
// Run: node --import tsx --test test/webview/explain.spec.mjs   (screenshots go to $TL_SHOTS or a temp dir)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protocol from '../../src/protocol/index.ts';
import { serveWebview } from './page.mjs';

const { validateWebviewMessage } = protocol; // a CommonJS module under tsx

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'stories260K.json'), 'utf8'));
const shots = process.env.TL_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'token-lens-shots-'));
let web;

before(async () => {
  web = await serveWebview({ name: 'explain', title: 'Explain Next Token', stub: 'stub.js', fixture });
}, { timeout: 90_000 });

after(async () => {
  await web?.close();
});

async function open(query = '', viewport = { width: 1200, height: 1000 }) {
  const opened = await web.open(query, viewport);
  return opened;
}

/** Everything the webview posted must pass the host's validator; no CSP violation, no script error. */
async function checkClean(page, errors) {
  const posted = await page.evaluate(() => window.__posted);
  for (const m of posted) assert.ok(!(validateWebviewMessage(m) instanceof Error), JSON.stringify(m));
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  return posted;
}

const lastPosted = (page) => page.evaluate(() => window.__posted[window.__posted.length - 1]);
/** Brings a tab of the panel to the front, as a click on its header does. */
const showTab = (page, tab) => page.locator(`vscode-tab-header[data-tab=${tab}]`).click();
const a = fixture.analysis;
const last = a.tokens.length - 1;

test('renders the real analysis: tokens, the distribution after the last token, loss and perplexity', async () => {
  const { page, context, errors } = await open();
  await page.locator('.tok').first().waitFor();
  assert.equal(await page.locator('.tok').count(), a.tokens.length);
  assert.equal(await page.locator('.tok.selected').getAttribute('id'), `tok-${last}`);
  const first = a.candidates[0];
  await page.locator('.cand').first().waitFor();
  assert.equal(await page.locator('.cand').count(), a.candidates.length);
  assert.equal(await page.locator('.cand .cand-text').first().textContent(), first.text.replace(/ /g, '·'));
  assert.equal(await page.locator('.cand .prob').first().textContent(), `${(first.prob * 100).toFixed(1)}%`);
  const stats = await page.locator('.stat-value').allTextContents();
  assert.equal(stats[0], `${a.meanLoss.toFixed(3)} nats`);
  assert.equal(stats[1], a.perplexity.toFixed(2));
  // The tooltip of a token carries its probability, rank and loss.
  const t = a.tokens[10];
  assert.match(await page.locator('#tok-10').getAttribute('title'), new RegExp(`rank ${t.rank}, loss ${t.loss.toFixed(2)} nats`));
  // The footer: the share the listed candidates hold, read from the recorded numbers; nothing is cut by default.
  const foot = await page.locator('.dist-foot').textContent();
  const held = /Top 10 of 512 tokens hold (\d+\.\d)% of the probability\. Click/.exec(foot);
  assert.ok(held, foot);
  assert.ok(Math.abs(Number(held[1]) / 100 - a.candidates.reduce((s, c) => s + c.prob, 0)) <= 0.0005, foot);
  assert.equal(a.kept, 512);
  // One bar per predicted token in the loss chart.
  assert.equal(await page.locator('.loss-bar').count(), a.tokens.filter((x) => x.loss !== null).length);
  await checkClean(page, errors);
  await context.close();
});

test('keyboard: arrows move the selection, the host answers with that position\'s distribution', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  await page.locator('#token-strip').focus();
  await page.keyboard.press('ArrowLeft');
  assert.deepEqual(await lastPosted(page), { type: 'selectPosition', position: last - 1 });
  const d = fixture.distributions[`${last - 1}|1|0|1`];
  await page.waitForFunction((t) => document.querySelector('.cand .cand-text')?.textContent === t, d.candidates[0].text.replace(/ /g, '·'));
  // The token that actually came next is marked in the list (when it is among the top k).
  const actual = a.tokens[last];
  const idx = d.candidates.findIndex((c) => c.id === actual.id);
  if (idx >= 0) assert.equal(await page.locator('.cand').nth(idx).getAttribute('class'), 'cand actual');
  // Past tokens can not be appended: the rows are not buttons there.
  assert.equal(await page.locator('.cand-button').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-strip');
  await page.keyboard.press('End');
  assert.deepEqual(await lastPosted(page), { type: 'selectPosition', position: last });
  await checkClean(page, errors);
  await context.close();
});

test('sampling controls send setControls and show the exact renormalised distribution', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  await page.locator('#ctl-temp').fill('0.5');
  await page.waitForFunction(() => window.__posted.some((m) => m.type === 'setControls'));
  assert.deepEqual(await lastPosted(page), { type: 'setControls', temperature: 0.5, topK: 0, topP: 1 });
  const d = fixture.distributions[`${last}|0.5|0|1`];
  await page.waitForFunction((t) => document.querySelector('.cand .prob')?.textContent === t, `${(d.candidates[0].prob * 100).toFixed(1)}%`);
  await page.locator('#ctl-topk input').fill('3');
  await page.locator('#ctl-topk input').press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1).topK === 3);
  const d3 = fixture.distributions[`${last}|0.5|3|1`];
  // Only three tokens survive top-k = 3, renormalised to sum to 1.
  await page.waitForFunction(() => document.querySelectorAll('.cand').length === 3);
  assert.deepEqual(await page.locator('.cand .prob').allTextContents(), d3.candidates.map((c) => `${(c.prob * 100).toFixed(c.prob >= 0.1 ? 1 : 2)}%`));
  assert.ok(Math.abs(d3.candidates.reduce((s, c) => s + c.prob, 0) - 1) < 1e-4);
  // Every kept token is listed, so they hold all of it (not a float sum shown as ">99.9%"); the host said how many.
  assert.equal(d3.kept, 3);
  assert.match(await page.locator('.dist-foot').textContent(), /^Top 3 of 512 tokens hold 100% of the probability \(sampling keeps 3\)\./);
  // Top-p 0.9 on top of it keeps fewer: the footer follows the host's count.
  const dp = fixture.distributions[`${last}|0.5|3|0.9`];
  assert.ok(dp.kept < 3, `kept ${dp.kept}`);
  await page.locator('#ctl-topp').fill('0.9');
  await page.waitForFunction((n) => document.querySelector('.dist-foot')?.textContent?.includes(`sampling keeps ${n})`), dp.kept);
  await checkClean(page, errors);
  await context.close();
});

/** The widths of the probability bars, in percent of the longest, as drawn. */
const barWidths = (page) => page.locator('.cand .bar-fill').evaluateAll((els) => els.map((e) => parseFloat(e.style.width)));
const expectedWidths = (d) => d.candidates.map((c) => (100 * c.prob) / Math.max(...d.candidates.map((x) => x.prob)));

test('sampling controls by keyboard: arrows step the temperature slider and its field follows, Up steps top-k, the bars follow', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  const before = await barWidths(page);
  await page.locator('#ctl-temp').focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  // The number field beside the slider shows the value at once; the host is asked once the hand rests.
  assert.equal(await page.locator('#ctl-temp-value').evaluate((el) => el.value), '0.90');
  await page.waitForFunction(() => window.__posted.some((m) => m.type === 'setControls'));
  assert.deepEqual((await page.evaluate(() => window.__posted)).filter((m) => m.type === 'setControls'),
    [{ type: 'setControls', temperature: 0.9, topK: 0, topP: 1 }]);
  const d = fixture.distributions[`${last}|0.9|0|1`];
  await page.waitForFunction((t) => document.querySelector('.cand .prob')?.textContent === t && !document.querySelector('.stale'),
    `${(d.candidates[0].prob * 100).toFixed(1)}%`);
  // A cooler softmax sharpens the distribution: every bar but the first is shorter than before, as recorded.
  const cooler = await barWidths(page);
  cooler.forEach((w, i) => assert.ok(Math.abs(w - expectedWidths(d)[i]) < 0.01, `bar ${i}: ${w} vs ${expectedWidths(d)[i]}`));
  assert.ok(cooler.slice(1).every((w, i) => w < before[i + 1]), `${cooler} against ${before}`);
  // Tab goes from the slider to its field, then to top-k; Up steps top-k to 1, which leaves one bar.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'ctl-temp-value');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'ctl-topk');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.topK === 1);
  assert.deepEqual(await lastPosted(page), { type: 'setControls', temperature: 0.9, topK: 1, topP: 1 });
  await page.waitForFunction(() => document.querySelectorAll('.cand').length === 1);
  assert.deepEqual(await barWidths(page), [100]);
  assert.equal(await page.locator('.cand .prob').textContent(), '100%');
  // Reset by keyboard (a vscode-button): the defaults go to the host, the fields show them, focus stays on Reset.
  await page.locator('#ctl-reset').focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await lastPosted(page), { type: 'setControls', temperature: 1, topK: 0, topP: 1 });
  await page.waitForFunction(() => document.querySelectorAll('.cand').length === 10);
  assert.equal(await page.locator('#ctl-temp-value').evaluate((el) => el.value), '1.00');
  assert.equal(await page.locator('#ctl-topk').evaluate((el) => el.value), '0');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'ctl-reset');
  assert.deepEqual(await barWidths(page), before);
  await checkClean(page, errors);
  await context.close();
});

test('a temperature typed into its field moves the slider and is sent; an out-of-range one is clamped', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  await page.locator('#ctl-temp-value').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('0.9');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.type === 'setControls');
  assert.deepEqual(await lastPosted(page), { type: 'setControls', temperature: 0.9, topK: 0, topP: 1 });
  assert.equal(await page.locator('#ctl-temp').inputValue(), '0.9');
  assert.equal(await page.locator('#ctl-temp').getAttribute('aria-valuetext'), '0.90');
  const d = fixture.distributions[`${last}|0.9|0|1`];
  await page.waitForFunction((t) => document.querySelector('.cand .prob')?.textContent === t, `${(d.candidates[0].prob * 100).toFixed(1)}%`);
  // 0 is no temperature: the field takes the slider's lowest, and shows it.
  await page.keyboard.press('Control+A');
  await page.keyboard.type('0');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.temperature === 0.05);
  assert.equal(await page.locator('#ctl-temp-value').evaluate((el) => el.value), '0.05');
  await checkClean(page, errors);
  await context.close();
});

test('clicking a candidate appends it; the appended text can then be inserted into the document', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand-button').first().click();
  assert.deepEqual((await page.evaluate(() => window.__posted)).find((m) => m.type === 'appendToken'), { type: 'appendToken', tokenId: fixture.appended.tokenId, text: fixture.appended.text });
  const n = fixture.appended.analysis.tokens.length;
  await page.waitForFunction((n) => document.querySelectorAll('.tok').length === n, n);
  assert.equal(await page.locator('.tok.selected').getAttribute('id'), `tok-${n - 1}`);
  await page.locator('#insert').click();
  assert.deepEqual(await lastPosted(page), { type: 'insertIntoDocument', text: fixture.appended.text });
  await checkClean(page, errors);
  await context.close();
});

test('attention: heatmap with the causal mask, layer and head pickers, the grid of heads', async () => {
  const { page, context, errors } = await open();
  await showTab(page, 'attention');
  await page.locator('canvas.heatmap').waitFor();
  assert.deepEqual((await page.evaluate(() => window.__posted)).find((m) => m.type === 'requestAttention'), { type: 'requestAttention', layer: 0, head: 0 });
  // Pixels: above the diagonal nothing is drawn (masked), the first column of the last row is.
  const px = await page.evaluate(() => {
    const c = document.querySelector('canvas.heatmap');
    const ctx = c.getContext('2d');
    const T = document.querySelectorAll('.tok').length;
    const margin = Number(c.dataset.margin), cell = Number(c.dataset.cell);
    const at = (r, col) => ctx.getImageData(margin + col * cell + cell / 2, margin + r * cell + cell / 2, 1, 1).data[3];
    let upper = 0;
    for (let r = 0; r < T; r++) for (let col = r + 2; col < T; col++) upper = Math.max(upper, at(r, col));
    let lastRow = 0;
    for (let col = 0; col < T; col++) lastRow = Math.max(lastRow, at(T - 1, col));
    return { upper, lastRow };
  });
  assert.equal(px.upper, 0);
  assert.ok(px.lastRow > 0);
  await page.locator('#att-layer').evaluate((el) => { el.value = '2'; el.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => document.querySelectorAll('.head-thumb').length === 8 && document.querySelector('h3')?.textContent?.includes('layer 2'));
  await page.locator('#head-3').focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await lastPosted(page), { type: 'requestAttention', layer: 2, head: 3 });
  await page.waitForFunction(() => document.querySelector('#head-3')?.getAttribute('aria-pressed') === 'true');
  assert.equal(await page.locator('#att-head').evaluate((el) => el.value), '3');
  await checkClean(page, errors);
  await context.close();
});

test('attention by keyboard: a head picked in the select (Space, arrows, Enter) redraws the heatmap with that head', async () => {
  const { page, context, errors } = await open();
  await showTab(page, 'attention');
  await page.locator('canvas.heatmap').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.head-thumb').length === 8);
  const drawn = () => page.locator('canvas.heatmap').evaluate((c) => c.toDataURL());
  const head0 = await drawn();
  // The select is drawn again when the tab's heads arrive: let it finish drawing before the keys go to it.
  await page.locator('#att-head').evaluate((el) => el.updateComplete);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.locator('#att-head').focus();
  await page.locator('#att-head').evaluate((el) => el.updateComplete);
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.querySelector('#att-head')?.open === true);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.type === 'requestAttention' && window.__posted.at(-1).head === 3, null, { timeout: 10_000 })
    .catch(async () => assert.fail(`after Space, 3 × Down, Enter: ${JSON.stringify(await lastPosted(page))}`));
  assert.deepEqual(await lastPosted(page), { type: 'requestAttention', layer: 0, head: 3 });
  await page.waitForFunction(() => /layer 0, head 3:/.test(document.querySelector('#heatmap')?.getAttribute('aria-label') ?? ''));
  assert.notEqual(await drawn(), head0);
  // The last row as drawn is head 3's recorded row: each cell's opacity is its weight.
  const m = fixture.attention['0|3'];
  const alphas = await page.evaluate((T) => {
    const c = document.querySelector('#heatmap');
    const margin = Number(c.dataset.margin), cell = Number(c.dataset.cell);
    return Array.from({ length: T }, (_, col) => c.getContext('2d').getImageData(margin + col * cell + cell / 2, margin + (T - 1) * cell + cell / 2, 1, 1).data[3]);
  }, m.size);
  alphas.forEach((a, col) => assert.ok(Math.abs(a - Math.round(Math.min(1, m.weights[(m.size - 1) * m.size + col]) * 255)) <= 2, `column ${col}: alpha ${a}`));
  // The select kept keyboard focus through the redraw and shows the head; the thumbnail of head 3 is pressed.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'att-head');
  assert.equal(await page.locator('#att-head').evaluate((el) => el.value), '3');
  assert.equal(await page.locator('#head-3').getAttribute('aria-pressed'), 'true');
  // The layer select by keyboard: one step down is layer 1, asked for once, with the head kept.
  const asked = (await page.evaluate(() => window.__posted)).length;
  await page.locator('#att-layer').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__posted.at(-1)?.layer === 1);
  assert.deepEqual(await lastPosted(page), { type: 'requestAttention', layer: 1, head: 3 });
  assert.equal((await page.evaluate(() => window.__posted)).length, asked + 1);
  await page.waitForFunction(() => document.querySelector('h3')?.textContent?.includes('layer 1'));
  await checkClean(page, errors);
  await context.close();
});

test('teaching notes open and close by keyboard (Space and Enter) and say whether they are open', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  const note = page.locator('vscode-collapsible[data-note="loss"]');
  const header = () => note.evaluate((el) => {
    const hd = el.shadowRoot.querySelector('.collapsible-header');
    return { role: hd.getAttribute('role'), expanded: hd.getAttribute('aria-expanded'), focused: el.shadowRoot.activeElement === hd };
  });
  await note.evaluate((el) => el.shadowRoot.querySelector('.collapsible-header').focus());
  assert.deepEqual(await header(), { role: 'button', expanded: 'false', focused: true });
  await page.keyboard.press('Space');
  assert.equal(await note.getAttribute('open'), '');
  assert.deepEqual(await header(), { role: 'button', expanded: 'true', focused: true });
  assert.deepEqual(await page.evaluate(() => JSON.parse(sessionStorage.getItem('state')).openNotes), ['loss']);
  await page.keyboard.press('Enter');
  assert.equal(await note.getAttribute('open'), null);
  assert.deepEqual(await header(), { role: 'button', expanded: 'false', focused: true });
  assert.deepEqual(await page.evaluate(() => JSON.parse(sessionStorage.getItem('state')).openNotes), []);
  await checkClean(page, errors);
  await context.close();
});

/** Presses Tab `n` times and notes what has focus: its id (or tag) and its accessible name. */
async function tabThrough(page, n) {
  const seen = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => {
      const e = document.activeElement;
      const label = e.getAttribute('aria-label') || (e.id && document.querySelector(`label[for="${e.id}"]`)?.textContent) || e.textContent;
      // Tab headers and panels are named by their tab (VS Code Elements give them generated ids).
      const tab = e.getAttribute('data-tab');
      return { key: tab ? `${e.tagName.toLowerCase()}:${tab}` : e.id || e.className || e.tagName, label: (label || '').trim() };
    }));
  }
  return seen;
}

test('every control is reachable with Tab and has an accessible name', async () => {
  const { page, context, errors } = await open();
  await page.locator('.cand').first().waitFor();
  // The Distribution tab's controls, and the header of the tab in front (arrow keys move between headers).
  let seen = await tabThrough(page, 20);
  let keys = new Set(seen.map((f) => f.key));
  for (const k of ['copy-text', 'token-strip', 'vscode-tab-header:distribution', 'ctl-temp', 'ctl-temp-value', 'ctl-topk', 'ctl-topp',
    'ctl-topp-value', 'ctl-reset', 'cand-0']) {
    assert.ok(keys.has(k), `${k} not reachable by Tab: ${[...keys].join(', ')}`);
  }
  for (const f of seen) assert.ok(f.label.length > 0, `${f.key} has no accessible name`);
  // From the Distribution header, ArrowRight + Enter brings Attention to the front: its controls come next.
  await page.locator('vscode-tab-header[data-tab=distribution]').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.locator('.head-thumb').first().waitFor();
  seen = await tabThrough(page, 14);
  keys = new Set(seen.map((f) => f.key));
  for (const k of ['att-layer', 'att-head', 'heatmap', 'head-0', 'head-7']) {
    assert.ok(keys.has(k), `${k} not reachable by Tab: ${[...keys].join(', ')}`);
  }
  for (const f of seen) assert.ok(f.label.length > 0, `${f.key} has no accessible name`);
  await checkClean(page, errors);
  await context.close();
});

test('a model without attention probabilities says so', async () => {
  const { page, context, errors } = await open('variant=noatt');
  await showTab(page, 'attention');
  await page.locator('#attn .notice').waitFor();
  assert.match(await page.locator('#attn .notice').textContent(), /not available.*GroupQueryAttention/);
  assert.equal(await page.locator('canvas.heatmap').count(), 0);
  assert.ok(!(await page.evaluate(() => window.__posted)).some((m) => m.type === 'requestAttention'));
  // Busy shows a progress bar and a status line; an error shows an alert with its detail folded.
  await page.evaluate(() => window.postMessage({ type: 'busy', message: 'Loading the model…' }, '*'));
  await page.locator('.progress.active').waitFor();
  assert.equal(await page.locator('[role=status]').textContent(), 'Loading the model…');
  await page.evaluate(() => window.postMessage({ type: 'error', message: 'Model failed to load.', detail: 'ENOENT onnx/model.onnx' }, '*'));
  await page.locator('[role=alert]').waitFor();
  assert.match(await page.locator('[role=alert]').textContent(), /Model failed to load\..*ENOENT/);
  assert.equal(await page.locator('.progress.active').count(), 0);
  await checkClean(page, errors);
  await context.close();
});

test('state survives hide/show: a reload re-renders from getState before the host answers', async () => {
  const { page, context, errors } = await open();
  await page.locator('canvas.heatmap').waitFor({ state: 'attached' });
  await page.locator('#tok-12').click();
  await page.locator('vscode-collapsible[data-note="loss"]').click();
  await page.goto(`${web.base}/?silent=1`);
  await page.locator('.tok').first().waitFor();
  assert.equal(await page.locator('.tok.selected').getAttribute('id'), 'tok-12');
  assert.equal(await page.locator('vscode-collapsible[data-note="loss"]').getAttribute('open'), '');
  assert.equal(await page.locator('canvas.heatmap').count(), 1);
  assert.deepEqual(await page.evaluate(() => window.__posted), [{ type: 'ready' }]);
  await checkClean(page, errors);
  await context.close();
});

test('screenshots in dark, light and high contrast', async () => {
  const wide = { width: 1200, height: 1100 };
  const variants = [['dark', 'vscode-dark', wide], ['light', 'vscode-light', wide]];
  // The full set only when someone will look at them.
  if (process.env.TL_SHOTS) variants.push(['hc', 'vscode-high-contrast', wide], ['dark', 'vscode-dark', { width: 560, height: 1500 }]);
  for (const [theme, body, viewport] of variants) {
    const { page, context, errors } = await open(`theme=${theme}&body=${body}`, viewport);
    await page.locator('canvas.heatmap').waitFor({ state: 'attached' });
    await page.locator('.head-thumb').first().waitFor({ state: 'attached' });
    await page.locator('#tok-22').click();
    await page.waitForFunction(() => !document.querySelector('.stale'));
    await page.locator('vscode-collapsible[data-note="softmax"]').click();
    await page.locator('#token-strip').focus();
    const file = path.join(shots, `explain-${theme}-${viewport.width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 10_000);
    await checkClean(page, errors);
    await context.close();
  }
  console.log(`screenshots: ${shots}`);
});
