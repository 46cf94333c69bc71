// The Toy Fine-tune view in a real browser (Chromium via playwright-core), under the production CSP, fed with
// messages recorded from a real stories260K fine-tuning run (test/webview/fixtures/finetune.json, see
// make-finetune-fixtures.ts). Run: node --import tsx --test test/webview/finetune.spec.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protocol from '../../src/protocol/index.ts';
import { serveWebview } from './page.mjs';

const { validateFineTuneMessage } = protocol; // a CommonJS module under tsx

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'finetune.json'), 'utf8'));
const shots = process.env.TL_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'token-lens-shots-'));
let web;

before(async () => {
  web = await serveWebview({ name: 'finetune', title: 'Toy Fine-tune', stub: 'finetune-stub.js', fixture });
}, { timeout: 90_000 });

after(async () => {
  await web?.close();
});

async function open(query = '', viewport = { width: 360, height: 1400 }) {
  const opened = await web.open(query, viewport);
  await opened.page.locator('#ft-file').waitFor();
  return opened;
}

async function checkClean(page, errors) {
  const posted = await page.evaluate(() => window.__posted);
  for (const m of posted) assert.ok(!(validateFineTuneMessage(m) instanceof Error), JSON.stringify(m));
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  return posted;
}

/** The controls are VS Code Elements: their value and disabled state are properties, a typed value goes to the inner input. */
const value = (page, sel) => page.locator(sel).evaluate((el) => el.value);
const disabled = (page, sel) => page.locator(sel).evaluate((el) => el.disabled);
/** Picks an option as a click in the select's list does, and waits for the select's change to be handled. */
const choose = (page, sel, v) => page.locator(sel).evaluate((el, v) => new Promise((done) => {
  el.value = v;
  el.dispatchEvent(new Event('change'));
  setTimeout(done, 10);
}), v);

const run = fixture.run;
const probes = run.filter((m) => m.type === 'probe');
const progress = run.filter((m) => m.type === 'progress');

test('a run from start to finish: live curve and stats, Pause/Stop states, the probe before and after', async () => {
  const { page, context, errors } = await open();
  assert.equal(await page.locator('#ft-file').textContent(), 'zoo.txt');
  // Fine-tuning the current model (the recorded run did too).
  await choose(page, '#ft-base', 'current');
  assert.equal(await value(page, '#ft-steps'), '40', 'fine-tuning defaults to few steps');
  await page.locator('#ft-steps input').fill('30');
  await page.locator('#ft-steps input').press('Tab');
  assert.equal(await disabled(page, '#ft-stop'), true);
  await page.locator('vscode-button[aria-label="Start training"]').click();
  const start = (await page.evaluate(() => window.__posted)).find((m) => m.type === 'start');
  assert.deepEqual(start.settings, run[0].settings, 'the form sends what the recorded run used');
  // The host's answer is a message: it arrives a task later.
  await page.waitForFunction(() => document.querySelector('#app')?.dataset.phase === 'starting');
  assert.equal(await disabled(page, '#ft-start'), true);
  assert.equal(await disabled(page, '#ft-base'), true, 'settings lock while a run goes');

  // Up to step 10: the before probe is shown, the curve has 10 points, pause and stop are live.
  await page.evaluate(() => window.__release('progress', 10));
  await page.waitForFunction(() => document.querySelector('#ft-stat-step .stat-value')?.textContent === '10 / 30');
  assert.equal(await page.locator('#app').getAttribute('data-phase'), 'running');
  assert.equal((await page.locator('.curve-train').getAttribute('points')).trim().split(' ').length, 10);
  assert.equal(await page.locator('#ft-stat-loss .stat-value').textContent(), progress[9].loss.toFixed(3));
  assert.equal(await page.locator('#ft-stat-tps .stat-value').textContent(), String(progress[9].tokensPerSec));
  assert.match(await page.locator('#ft-loss-curve').getAttribute('aria-label'), /train loss .* at step 10 of 30/);
  const b = probes[0].probe;
  assert.match(await page.locator('#ft-probe-before .target-prob').textContent(), /P\(“·Zoo”\)/);
  assert.equal(await page.locator('#ft-probe-before .probe-top li').count(), b.top.length);
  assert.equal(await page.locator('#ft-probe-before .probe-top .cand-text').first().textContent(), b.top[0].text.replace(/ /g, '·'));
  assert.equal(await disabled(page, '#ft-stop'), false);
  assert.match(await page.locator('#ft-stat-eta .stat-value').textContent(), /^\d+ (s|min)$/);
  await page.locator('#ft-pause').click();
  await page.waitForFunction(() => document.querySelector('#ft-pause')?.getAttribute('aria-label') === 'Resume training');
  assert.equal(await page.locator('#ft-pause').textContent(), 'Resume');
  // No time passes towards the end while paused: the estimate gives way to the word.
  assert.equal(await page.locator('#ft-stat-eta .stat-value').textContent(), 'paused');
  await page.locator('#ft-pause').click();
  await page.waitForFunction(() => document.querySelector('#ft-pause')?.getAttribute('aria-label') === 'Pause training');

  // The rest of the run: the after probe puts the target first, Save and Explain appear.
  await page.evaluate(() => window.__release('finished'));
  await page.locator('#ft-explain').waitFor();
  assert.equal(await page.locator('#app').getAttribute('data-phase'), 'finished');
  const a = probes[1].probe;
  assert.equal(a.targetRank, 1);
  assert.equal(await page.locator('#ft-probe-after .probe-top li').first().getAttribute('class'), 'hit');
  assert.match(await page.locator('#ft-probe-after .probe-target').textContent(), /rank 1/);
  // The loss table has one row per token, before and after.
  assert.equal(await page.locator('#ft-probe-losses tbody tr').count(), b.tokens.length);
  const lastRow = await page.locator('#ft-probe-losses tbody tr').last().locator('td').allTextContents();
  assert.deepEqual(lastRow, [b.tokens.at(-1).loss.toFixed(2), a.tokens.at(-1).loss.toFixed(2)]);
  assert.equal(await page.locator('.curve-val-dot').count(), run.filter((m) => m.type === 'progress' && m.valLoss !== null)
    .reduce((n, m, i, all) => n + (i === 0 || all[i - 1].valLoss !== m.valLoss ? 1 : 0), 0));
  assert.equal(await disabled(page, '#ft-start'), false, 'a new run can start');
  await page.locator('#ft-save').click();
  await page.locator('#ft-explain').click();
  const posted = await checkClean(page, errors);
  assert.deepEqual(posted.slice(-2), [{ type: 'save' }, { type: 'explain' }]);
  await page.screenshot({ path: path.join(shots, 'finetune-dark.png'), fullPage: true });

  // Hide/show: the reloaded view renders the same run from its saved state.
  await page.reload();
  await page.locator('#ft-explain').waitFor();
  assert.equal(await page.locator('#ft-stat-step .stat-value').textContent(), '30 / 30');
  assert.equal((await page.locator('.curve-train').getAttribute('points')).trim().split(' ').length, 30);
  await checkClean(page, errors);
  await context.close();
});

test('keyboard: Tab reaches every control, each with a name; light and high-contrast themes render', async () => {
  for (const theme of ['light', 'hc']) {
    const { page, context, errors } = await open(`theme=${theme}&body=${theme === 'hc' ? 'vscode-high-contrast' : 'vscode-light'}`);
    await choose(page, '#ft-base', 'current');
    // Mode by keyboard (Space opens the list, Down moves, Enter picks): LoRA brings its rank field.
    await page.locator('#ft-mode').focus();
    for (const key of ['Space', 'ArrowDown', 'Enter']) await page.keyboard.press(key);
    await page.locator('#ft-rank').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'ft-mode', 'focus stays on the select through the redraw');
    const reached = new Set();
    await page.locator('#ft-use-active').focus();
    for (let i = 0; i < 20; i++) {
      const info = await page.evaluate(() => {
        const el = document.activeElement;
        const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
        return { id: el.id, name: el.getAttribute('aria-label') || label || el.textContent.trim() };
      });
      assert.ok(info.name, `${info.id} has an accessible name`);
      reached.add(info.id);
      await page.keyboard.press('Tab');
    }
    for (const id of ['ft-use-active', 'ft-pick-file', 'ft-base', 'ft-pick-folder', 'ft-mode', 'ft-rank', 'ft-steps', 'ft-lr',
      'ft-optimizer', 'ft-seed', 'ft-prompt', 'ft-target', 'ft-start']) assert.ok(reached.has(id), `Tab reaches ${id}`);
    await page.keyboard.press('Shift+Tab');
    await page.locator('#ft-start').focus();
    await page.keyboard.press('Enter');
    const start = (await page.evaluate(() => window.__posted)).find((m) => m.type === 'start');
    assert.equal(start.settings.mode, 'lora');
    assert.equal(start.settings.loraRank, 8);
    await page.evaluate(() => window.__release('finished'));
    await page.locator('#ft-explain').waitFor();
    await page.screenshot({ path: path.join(shots, `finetune-${theme}.png`), fullPage: true });
    await checkClean(page, errors);
    await context.close();
  }
});

test('a run the host starts (the walkthrough\'s one click) shows its settings in the locked form', async () => {
  const { page, context, errors } = await open();
  // The host chose a model folder and started: the form had the preset defaults until then.
  assert.equal(await value(page, '#ft-base'), 'toy');
  const settings = { ...run[0].settings, base: 'folder', steps: 25, lr: 0.002 };
  await page.evaluate(([ctx, settings]) => {
    window.__send({ ...ctx, folder: '/ext/dist/models/stories260K' });
    window.__send({ type: 'runStarting', settings, fileName: 'zoo.txt', steps: settings.steps });
  }, [fixture.context, settings]);
  await page.waitForFunction(() => document.querySelector('#app')?.getAttribute('data-phase') === 'starting');
  assert.equal(await value(page, '#ft-base'), 'folder');
  assert.equal(await page.locator('#ft-base vscode-option[selected]').textContent(), 'Folder: stories260K');
  assert.equal(await value(page, '#ft-steps'), '25');
  assert.equal(await value(page, '#ft-lr'), '0.002');
  assert.equal(await value(page, '#ft-target'), ' Zoo');
  assert.equal(await disabled(page, '#ft-steps'), true, 'the form is locked while the run goes');
  await checkClean(page, errors);
  await context.close();
});

test('a refused file: the message shows and Start stays disabled', async () => {
  const { page, context, errors } = await open();
  await page.evaluate((ctx) => window.__send({ ...ctx, fileProblem: '/x/blob.bin looks like a binary file (it contains NUL bytes): train on text or code.' }), fixture.context);
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /binary file/);
  assert.equal(await disabled(page, '#ft-start'), true);
  await checkClean(page, errors);
  await context.close();
});

test('out-of-range numbers stay as typed with a message giving the range; Start waits until they are allowed', async () => {
  const { page, context, errors } = await open();
  const lr = page.locator('#ft-lr');
  for (const typed of ['1e6', '5', '-1', '0']) {
    await lr.locator('input').fill(typed);
    await lr.locator('input').press('Tab');
    assert.equal(await value(page, '#ft-lr'), typed, 'the typed value is kept, not replaced');
    assert.equal(await lr.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#ft-lr-error').textContent(), `Learning rate must be from 0.000001 to 1 (got ${Number(typed)}).`);
    assert.equal(await disabled(page, '#ft-start'), true);
  }
  await page.locator('#ft-steps input').fill('2.5');
  assert.equal(await page.locator('#ft-steps-error').textContent(), 'Steps must be a whole number from 1 to 100,000.');
  await page.locator('#ft-steps input').fill('');
  assert.equal(await page.locator('#ft-steps-error').textContent(), 'Steps must be a number from 1 to 100,000.');
  // Hide/show keeps what was typed and why it is refused.
  await page.reload();
  await page.locator('#ft-lr-error').waitFor();
  assert.equal(await value(page, '#ft-lr'), '0');
  assert.equal(await disabled(page, '#ft-start'), true);
  await page.locator('#ft-steps input').fill('25');
  await lr.locator('input').fill('0.01');
  assert.equal(await page.locator('#ft-lr-error').isVisible(), false);
  assert.equal(await lr.getAttribute('aria-invalid'), 'false');
  await page.locator('#ft-start').click();
  const start = (await page.evaluate(() => window.__posted)).find((m) => m.type === 'start');
  assert.equal(start.settings.lr, 0.01, 'what the user typed is what runs');
  assert.equal(start.settings.steps, 25);
  await checkClean(page, errors);
  await context.close();
});

test('a model folder the user chose becomes "Start from"; the probe follows the file until the user writes one', async () => {
  const { page, context, errors } = await open();
  assert.equal(await value(page, '#ft-base'), 'toy');
  // What the host sends after the folder dialog.
  await page.evaluate((ctx) => { window.__send({ ...ctx, folder: '/models/my-llama' }); window.__send({ type: 'folderChosen' }); }, fixture.context);
  await page.waitForFunction(() => document.querySelector('#ft-base')?.value === 'folder');
  assert.match(await page.locator('#ft-base vscode-option[selected]').textContent(), /Folder: my-llama/);
  assert.equal(await value(page, '#ft-steps'), '40', 'fine-tuning defaults');
  // Chosen again after switching back to a preset: selected again.
  await choose(page, '#ft-base', 'toy');
  await page.evaluate((ctx) => { window.__send({ ...ctx, folder: '/models/my-llama' }); window.__send({ type: 'folderChosen' }); }, fixture.context);
  await page.waitForFunction(() => document.querySelector('#ft-base')?.value === 'folder');

  // A code file: its own line is the probe.
  const probe = { prompt: 'import { readFileSync }', target: ' from' };
  await page.evaluate(([ctx, probe]) => window.__send({ ...ctx, folder: '/models/my-llama', probe }), [fixture.context, probe]);
  await page.waitForFunction(() => document.querySelector('#ft-target')?.value === ' from');
  assert.equal(await value(page, '#ft-prompt'), probe.prompt);
  // The user's own probe is kept when the file changes.
  await page.locator('#ft-prompt textarea').fill('const text =');
  await page.locator('#ft-prompt textarea').press('Tab');
  await page.evaluate((ctx) => window.__send({ ...ctx, folder: '/models/my-llama', probe: { prompt: 'other', target: ' line' } }), fixture.context);
  await page.waitForFunction(() => document.querySelector('#ft-base')?.value === 'folder');
  assert.equal(await value(page, '#ft-prompt'), 'const text =');
  assert.equal(await value(page, '#ft-target'), ' from');
  await page.locator('#ft-start').click();
  const start = (await page.evaluate(() => window.__posted)).find((m) => m.type === 'start');
  assert.equal(start.settings.base, 'folder');
  assert.deepEqual([start.settings.prompt, start.settings.target], ['const text =', ' from']);
  await checkClean(page, errors);
  await context.close();
});

test('a loss that blew up ends with a warning; a NaN stop with an error and nothing to explain', async () => {
  {
    const { page, context, errors } = await open('run=blowUp');
    await page.locator('#ft-start').click();
    await page.evaluate(() => window.__release('finished'));
    await page.locator('#ft-outcome').waitFor();
    const result = fixture.blowUp.at(-1).result;
    assert.equal(await page.locator('#ft-outcome').getAttribute('class'), 'warning');
    assert.equal(await page.locator('#ft-outcome').getAttribute('role'), 'alert');
    assert.equal(await page.locator('#ft-outcome').textContent(), result.warning);
    assert.match(result.warning, /training blew up/);
    assert.equal(await page.locator('#ft-explain').isVisible(), true, 'the model was written: it can still be looked at');
    await checkClean(page, errors);
    await context.close();
  }
  {
    const { page, context, errors } = await open('run=diverged');
    await page.locator('#ft-start').click();
    await page.evaluate(() => window.__release('finished'));
    await page.locator('#ft-outcome').waitFor();
    assert.equal(await page.locator('#ft-outcome').getAttribute('class'), 'error');
    assert.match(await page.locator('#ft-outcome').textContent(), /^The loss became NaN at step \d+: training stopped\. Try a lower learning rate/);
    assert.equal(await page.locator('#ft-status').textContent(), 'Training stopped early.');
    // A loss of 1e31 still gets a handful of gridlines (the view used to loop over billions of them).
    assert.ok(await page.locator('#ft-loss-curve .grid-line').count() <= 6);
    assert.equal(await page.locator('#ft-explain').count(), 0);
    assert.equal(await page.locator('#ft-save').count(), 0);
    await checkClean(page, errors);
    await context.close();
  }
});

test('Stop while the model initialises: the view unlocks and offers nothing to save', async () => {
  const { page, context, errors } = await open('run=stoppedInit');
  await page.locator('#ft-start').click();
  await page.evaluate(() => window.__release('busy'));
  await page.waitForFunction(() => document.querySelector('#ft-status')?.textContent === 'Initialising the model…');
  assert.equal(await disabled(page, '#ft-stop'), false);
  await page.locator('#ft-stop').click();
  await page.evaluate(() => window.__release('finished'));
  await page.waitForFunction(() => document.querySelector('#app')?.dataset.phase === 'finished');
  assert.equal(await page.locator('#ft-status').textContent(), 'Stopped before training started: nothing was trained.');
  for (const id of ['ft-start', 'ft-base', 'ft-steps', 'ft-lr', 'ft-use-active']) assert.equal(await disabled(page, `#${id}`), false, `${id} unlocked`);
  assert.equal(await disabled(page, '#ft-stop'), true);
  assert.equal(await page.locator('#ft-explain').count(), 0);
  await checkClean(page, errors);
  await context.close();
});

test('an error while no run goes (a refused start or folder) is shown', async () => {
  const { page, context, errors } = await open();
  await page.evaluate(() => window.__send({ type: 'error', message: '/x is not a model folder (no config.json).' }));
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').textContent(), '/x is not a model folder (no config.json).');
  await checkClean(page, errors);
  await context.close();
});

/** WCAG contrast ratio of two CSS colours as the page resolves them (any syntax, color-mix included). */
async function contrast(page, selector, property) {
  return page.evaluate(([selector, property]) => {
    const rgb = (css) => {
      const c = document.createElement('canvas').getContext('2d');
      c.fillStyle = css;
      c.fillRect(0, 0, 1, 1);
      return [...c.getImageData(0, 0, 1, 1).data].slice(0, 3);
    };
    const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const fg = lum(rgb(getComputedStyle(document.querySelector(selector))[property]));
    const bg = lum(rgb(getComputedStyle(document.body).backgroundColor));
    return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  }, [selector, property]);
}

test('the dashed validation curve stands out in the light and dark themes (contrast at least 3:1, 2 px)', async () => {
  for (const theme of ['light', 'dark']) {
    const { page, context } = await open(`theme=${theme}&body=vscode-${theme}`);
    await choose(page, '#ft-base', 'current');
    await page.locator('#ft-start').click();
    await page.evaluate(() => window.__release('finished'));
    await page.locator('.curve-val').waitFor();
    const ratio = await contrast(page, '.curve-val', 'stroke');
    assert.ok(ratio >= 3, `${theme}: validation curve contrast ${ratio.toFixed(2)}:1`);
    assert.ok(await contrast(page, '.curve-val-dot', 'fill') >= 3, `${theme}: validation dots`);
    assert.ok(parseFloat(await page.locator('.curve-val').evaluate((el) => getComputedStyle(el).strokeWidth)) >= 2);
    await context.close();
  }
});
