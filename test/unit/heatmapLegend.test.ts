// The loss heatmap's legend (scaled rank buckets, colour swatches VS Code's Markdown keeps) and its
// report-each-cause-once rule for failures.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { legendMarkdown, legendText, swatch } from '../../src/extension/heatmapLegend';
import { causeOf, ReportOnce } from '../../src/extension/reportOnce';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * The style VS Code keeps on a <span> in Markdown with supportHtml (src/vs/base/browser/markdownRenderer.ts);
 * any other style attribute is dropped, and with it the swatch's colour.
 */
const VSCODE_SPAN_STYLE = String.raw`/^(color\:(#[0-9a-fA-F]+|var\(--vscode(-[a-zA-Z0-9]+)+\));)?(background-color\:(#[0-9a-fA-F]+|var\(--vscode(-[a-zA-Z0-9]+)+\));)?(display\:inline-block;)?(border-radius:[0-9]+px;)?$/`;
const spanStyle = new RegExp(VSCODE_SPAN_STYLE.slice(1, -1));

test('the span style rule is the one in the VS Code build the end-to-end tests run', { skip: !existsSync(join(root, '.cache/e2e/code-server')) && 'no code-server' }, () => {
  const workbench = join(root, '.cache/e2e/code-server/node_modules/code-server/lib/vscode/out/vs/code/browser/workbench/workbench.js');
  assert.ok(readFileSync(workbench, 'utf8').includes(VSCODE_SPAN_STYLE), 'the sanitizer rule changed: update VSCODE_SPAN_STYLE and swatch()');
});

test('each swatch is painted with a contributed heatmap colour, in a style VS Code keeps', () => {
  const colours = new Set(pkg.contributes.colors.map((c: { id: string }) => c.id));
  for (const style of ['rank', 'surprisal'] as const) {
    const md = legendMarkdown({ style, vocabSize: 512, meanLoss: 2.5 });
    const spans = [...md.matchAll(/<span style="([^"]*)">/g)].map((m) => m[1]);
    assert.equal(spans.length, style === 'rank' ? 4 : 5);
    for (const css of spans) {
      assert.match(css, spanStyle);
      const id = /var\(--vscode-([\w-]+)\)/.exec(css)![1].replace(/-/g, '.');
      assert.ok(colours.has(id), `${id} is not a contributed colour`);
    }
  }
  assert.equal(swatch('rankRest'), '<span style="background-color:var(--vscode-tokenLens-heatmap-rankRestBackground);border-radius:3px;">&nbsp;&nbsp;&nbsp;&nbsp;</span>');
});

test('the legend names the boundaries in use for the model\'s vocabulary', () => {
  assert.equal(legendText({ style: 'rank', vocabSize: 512, meanLoss: 2.345 }), '$(symbol-color) rank: top-4 · top-14 · top-54 · rest  (mean loss 2.35)');
  assert.equal(legendText({ style: 'rank', vocabSize: 50_257 }), '$(symbol-color) rank: top-10 · top-100 · top-1000 · rest');
  const md = legendMarkdown({ style: 'rank', vocabSize: 512, meanLoss: 2.345 });
  for (const row of ['**top-4** ranks 1–4', '**top-14** ranks 5–14', '**top-54** ranks 15–54', '**rest** ranks 55–512']) {
    assert.ok(md.includes(row), `${row} not in\n${md}`);
  }
  assert.match(md, /GPT-2's 50,257 tokens; for this model's 512 they are scaled/);
  assert.match(md, /Mean loss of the visible tokens: 2\.35 nats \(perplexity 10\.43\)/);
  const surprisal = legendMarkdown({ style: 'surprisal', vocabSize: 512 });
  for (const row of ['**< 1 nat** under 1 nat', '**1–2.5** 1–2.5 nats', '**≥ 6 nats** 6 nats or more']) assert.ok(surprisal.includes(row), row);
  assert.doesNotMatch(surprisal, /Mean loss/);
});

test('a failure cause is shown once, repeats are logged; numbers do not make a new cause; reset shows it again', () => {
  const shown: string[] = [];
  const logged: string[] = [];
  const once = new ReportOnce((e) => shown.push(String((e as Error).message)), (e) => logged.push(String((e as Error).message)));
  const gather = (idx: number) => new Error(`Non-zero status code returned while running Gather node. idx=${idx} must be within [-512,511]`);
  assert.equal(once.report(gather(512)), true);
  for (let i = 0; i < 5; i++) assert.equal(once.report(gather(600 + i)), false);
  assert.equal(once.report(new Error('Model folder not found: /x')), true);
  assert.equal(shown.length, 2);
  assert.equal(logged.length, 5);
  assert.equal(once.failures, 7);
  assert.equal(causeOf(gather(1)), causeOf(gather(2)));
  assert.notEqual(causeOf(new TypeError('x')), causeOf(new Error('x')));
  once.reset();
  assert.equal(once.failures, 0);
  assert.equal(once.report(gather(512)), true);
  assert.equal(shown.length, 3);
});
