// The editor-free parts of the extension (what to analyse, hover text, heatmap buckets) on the real
// stories260K model, imported from its llama2.c checkpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadStories260K } from './stories260K';
import type { ModelSession } from '../../src/core/runtime/session';
import { describeWindow, explainTarget, isBinaryText, readerOf, sliceAround } from '../../src/extension/documentText';
import { bucketOf, bucketsFor, GLTR_VOCAB, rankBoundaries } from '../../src/extension/heatmapBuckets';
import { HOVER_COMMANDS, hoverMarkdown, noModelMarkdown, showToken } from '../../src/extension/hoverText';

const PROMPT = 'Once upon a time, there was a little girl named';
let session: ModelSession;
let close: () => Promise<void>;

before(async () => {
  ({ session, close } = await loadStories260K('token-lens-ext-'));
});

after(async () => {
  await close?.();
});

test('explain target: the selection, else the text before the cursor; empty, blank and binary refused', () => {
  const doc = 'Once upon a time';
  assert.deepEqual(explainTarget(readerOf(doc), 5, 9), { text: 'upon', start: 5, cut: 0 });
  assert.deepEqual(explainTarget(readerOf(doc), 9, 9), { text: 'Once upon', start: 0, cut: 0 });
  // At most maxChars, from the end; never half of a surrogate pair.
  assert.deepEqual(explainTarget(readerOf(doc), 16, 16, 4), { text: 'time', start: 12, cut: 12 });
  assert.deepEqual(explainTarget(readerOf(doc), 9, 16, 4), { text: 'time', start: 12, cut: 3 });
  assert.deepEqual(explainTarget(readerOf('a😀bc'), 5, 5, 3), { text: 'bc', start: 3, cut: 3 });
  assert.ok('problem' in explainTarget(readerOf(doc), 0, 0));
  assert.ok('problem' in explainTarget(readerOf('   \n\tx'), 4, 4));
  assert.ok('problem' in explainTarget(readerOf(doc), 4, 5));
  const binary = explainTarget(readerOf('PK\u0003\u0004\u0000\u0000abc'), 8, 8);
  assert.ok('problem' in binary && /binary/.test(binary.problem));
  assert.equal(isBinaryText('plain\ttext\n'), false);
});

test('sliceAround keeps the offset three quarters in and stays inside the document', () => {
  assert.deepEqual(sliceAround(100, 50, 400), { start: 0, end: 100 });
  assert.deepEqual(sliceAround(10_000, 5_000, 400), { start: 4_700, end: 5_100 });
  assert.deepEqual(sliceAround(10_000, 100, 400), { start: 0, end: 400 });
  assert.deepEqual(sliceAround(10_000, 9_990, 400), { start: 9_600, end: 10_000 });
  // A window that should end at the offset (the heatmap walking back over a screen) reaches just past it.
  assert.deepEqual(sliceAround(10_000, 5_000, 400, 32), { start: 4_632, end: 5_032 });
});

test('the hover puts the actual token and "Explain from here" first, then the candidates, " Lily" on top', async () => {
  const text = PROMPT + ' Lily. She liked to play.';
  const a = await session.analyze(text);
  const i = a.tokenIndexAt(PROMPT.length + 2);
  const lily = a.tokens[i];
  assert.equal(text.slice(lily.start, lily.end), ' Lily');
  const md = hoverMarkdown({ candidates: a.topK(i - 1, 10), actual: lily, explainCommand: 'command:x' });
  const lines = md.split('\n');
  // The first line is all a hover cut off after a few rows must still show.
  assert.match(lines[0], /^\*\*Actual\*\* `␣Lily` \d+\.\d% · rank 1 · loss \d\.\d\d nats · \[\$\(lightbulb-sparkle\) Explain from here\]\(command:x\)$/);
  assert.ok(lines[0].includes(`loss ${lily.loss!.toFixed(2)} nats`));
  const rows = lines.filter((l) => /^\| \d+ \|/.test(l));
  assert.equal(rows.length, 10);
  assert.match(rows[0], /^\| 1 \| `␣Lily` ◀ \|/);
  assert.equal(lily.rank, 1);
  // Ten candidates, a header and the actual line: 14 lines, none of them an exponent in a percentage.
  assert.equal(lines.length, 14);
  assert.doesNotMatch(md, /\de[-+]?\d/);
  // The first token has nothing before it to predict from.
  const first = a.tokens.find((t) => !t.special)!;
  assert.match(hoverMarkdown({ candidates: [], actual: { ...first, prob: null, rank: null, loss: null } }), /first token/);
});

test('without a model the hover is one line with the way to load one and to turn it off', () => {
  const none = noModelMarkdown('none', '/home/u/models/stories260K');
  assert.equal(none.split('\n').length, 1);
  assert.match(none, /^Token Lens: \[\$\(play\) Load\]\(command:tokenLens\.loadModel\) `stories260K` to see its predictions here · \[turn off\]\(command:workbench\.action\.openSettings\?%5B%22tokenLens\.hover\.enabled%22%5D\)$/);
  assert.match(noModelMarkdown('none', ''), /\[\$\(play\) Select a model\]\(command:tokenLens\.loadModel\)/);
  assert.match(noModelMarkdown('loading', 'Xenova/gpt2'), /^Token Lens: loading `Xenova\/gpt2`… · \[turn off\]/);
  assert.match(noModelMarkdown('error', 'Xenova/gpt2'), /failed to load · \[Show Log\]\(command:tokenLens\.showLog\) · \[\$\(play\) Try again\]/);
  // Every command a link runs is one the hover trusts.
  for (const state of ['none', 'loading', 'error'] as const) {
    for (const [, cmd] of noModelMarkdown(state, 'm').matchAll(/\(command:([\w.]+)/g)) assert.ok(HOVER_COMMANDS.includes(cmd), cmd);
  }
});

test('showToken makes whitespace visible and cannot break a Markdown table', () => {
  assert.equal(showToken(' a\n'), '`␣a↵`');
  assert.equal(showToken('a|b`'), '`a\\|bˋ`');
  assert.equal(showToken(''), '`∅`');
});

test('rank buckets are GLTR\'s at GPT-2\'s vocabulary and scale with the vocabulary', () => {
  assert.deepEqual(rankBoundaries(GLTR_VOCAB), [10, 100, 1000]);
  assert.deepEqual(rankBoundaries(512), [4, 14, 54]);
  assert.deepEqual(rankBoundaries(32_000), [9, 83, 750]);
  assert.deepEqual(rankBoundaries(128_256), [12, 149, 1818]);
  // Tiny vocabularies still get four distinct buckets.
  assert.deepEqual(rankBoundaries(3), [1, 2, 3]);
  const gpt2 = (r: number) => bucketOf('rank', { prob: 0.5, rank: r, loss: 0.7 }, GLTR_VOCAB);
  assert.deepEqual([1, 10, 11, 100, 101, 1000, 1001, 50_000].map(gpt2), [0, 0, 1, 1, 2, 2, 3, 3]);
  const small = (r: number) => bucketOf('rank', { prob: 0.5, rank: r, loss: 0.7 }, 512);
  assert.deepEqual([1, 4, 5, 14, 15, 54, 55, 512].map(small), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual(bucketsFor('rank', 512).map((b) => b.label), ['top-4', 'top-14', 'top-54', 'rest']);
  const loss = (l: number) => bucketOf('surprisal', { prob: Math.exp(-l), rank: 1, loss: l }, 512);
  assert.deepEqual([0, 0.99, 1, 2.4, 2.5, 3.9, 4, 5.9, 6, 30, Infinity].map(loss), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]);
  assert.equal(bucketOf('rank', { prob: null, rank: null, loss: null }, 512), -1);
});

test('on stories260K\'s 512 tokens every rank colour appears, purple included, on text it never saw', async () => {
  const held = PROMPT + ' Lily. She liked to play outside with her dog.\nOne day the quantum compiler refused to parse her sandwich.\n';
  const a = await session.analyze(held);
  const buckets = bucketsFor('rank', a.vocabSize);
  const seen = new Set<number>();
  for (const t of a.tokens.slice(1)) {
    const b = bucketOf('rank', t, a.vocabSize);
    assert.ok(b >= 0 && t.rank! < buckets[b].below && (b === 0 || t.rank! >= buckets[b - 1].below), `rank ${t.rank} -> ${b}`);
    seen.add(b);
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
  // GLTR's fixed 1000 would leave the last bucket (purple) empty: no rank exceeds the vocabulary.
  assert.ok(a.tokens.slice(1).every((t) => t.rank! <= 1000));
});

test('describeWindow names the analysed part of a text longer than the context window', async () => {
  const short = await session.analyze(PROMPT);
  assert.equal(describeWindow(short.window, short.tokens.length, PROMPT.length), undefined);
  const long = (PROMPT + ' Lily. She liked to play outside with her dog.\n').repeat(40);
  const a = await session.analyze(long);
  assert.ok(a.window.truncated && a.window.totalTokens > session.info.contextLength);
  const note = describeWindow(a.window, a.tokens.length, long.length)!;
  const about = a.window.counted ? '' : 'about ';
  assert.match(note, new RegExp(`^The text is ${about}${a.window.totalTokens} tokens, .* the last part, tokens ${about}${a.window.firstToken + 1}–`));
  assert.ok(note.includes(`characters ${a.window.start}–${long.length}`), note);
});

test('a long text is taken from its end: the very tokens the whole text has there, counted from its start', async () => {
  const doc = (PROMPT + ' Lily. She liked to play outside with her dog.\n').repeat(2000);
  const maxChars = session.info.contextLength * 32;
  const target = explainTarget(readerOf(doc), doc.length, doc.length, maxChars);
  assert.ok(!('problem' in target) && target.cut === doc.length - maxChars && target.text === doc.slice(target.cut));
  const a = await session.analyze(target.text, { precedingChars: target.cut });
  const full = session.tokenize(doc);
  const got = a.tokens.slice(1).map((t) => [t.id, t.start + target.cut, t.end + target.cut]);
  assert.deepEqual(got, full.slice(full.length - got.length).map((t) => [t.id, t.start, t.end]));
  assert.equal(a.tokens.length, session.info.contextLength);
  assert.equal(a.window.counted, false);
  assert.ok(Math.abs(a.window.totalTokens / full.length - 1) < 0.05, `${a.window.totalTokens} tokens estimated, ${full.length} counted`);
  const note = describeWindow(a.window, a.tokens.length, target.text.length, target.cut)!;
  assert.ok(note.startsWith(`The text is about ${a.window.totalTokens} tokens`) && note.includes(`characters ${target.cut + a.window.start}–${doc.length}`), note);
});
