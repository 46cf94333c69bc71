// The editor-free parts of the extension (what to analyse, hover text, heatmap buckets) on the real
// stories260K model, imported from its llama2.c checkpoint.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { ModelSession } from '../../src/core/runtime/session';
import { describeWindow, explainTarget, isBinaryText, readerOf, sliceAround } from '../../src/extension/documentText';
import { BUCKETS, bucketOf } from '../../src/extension/heatmapBuckets';
import { hoverMarkdown, showToken } from '../../src/extension/hoverText';

const shared = join(__dirname, '..', '..', 'vendor', 'stories260K');
const PROMPT = 'Once upon a time, there was a little girl named';
let tmp: string;
let session: ModelSession;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'token-lens-ext-'));
  const folder = join(tmp, 'stories260K');
  await importLlama2c({ checkpoint: join(shared, 'stories260K.bin'), tokenizer: join(shared, 'tok512.bin'), out: folder });
  session = await ModelSession.load(folder, { cacheDir: join(tmp, 'cache'), offline: true, threads: 1 });
});

after(async () => {
  await session?.dispose();
  rmSync(tmp, { recursive: true, force: true });
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
});

test('the hover after the prompt ranks " Lily" first and reports the actual token', async () => {
  const text = PROMPT + ' Lily. She liked to play.';
  const a = await session.analyze(text);
  const i = a.tokenIndexAt(PROMPT.length + 2);
  const lily = a.tokens[i];
  assert.equal(text.slice(lily.start, lily.end), ' Lily');
  const md = hoverMarkdown({ candidates: a.topK(i - 1, 5), actual: lily, model: 'stories260K', explainCommand: 'command:x' });
  const rows = md.split('\n').filter((l) => /^\| \d+ \|/.test(l));
  assert.equal(rows.length, 5);
  assert.match(rows[0], /^\| 1 \| `␣Lily` ◀ \|/);
  assert.equal(lily.rank, 1);
  assert.ok(md.includes(`**Actual** \`␣Lily\`: prob ${(lily.prob! * 100).toFixed(1)}%, rank 1, loss ${lily.loss!.toFixed(2)} nats`), md);
  assert.ok(md.endsWith('(command:x)'));
  // The first token has nothing before it to predict from.
  const first = a.tokens.find((t) => !t.special)!;
  assert.match(hoverMarkdown({ candidates: [], actual: { ...first, prob: null, rank: null, loss: null }, model: 'm' }), /first token/);
});

test('showToken makes whitespace visible and cannot break a Markdown table', () => {
  assert.equal(showToken(' a\n'), '`␣a↵`');
  assert.equal(showToken('a|b`'), '`a\\|bˋ`');
  assert.equal(showToken(''), '`∅`');
});

test('heatmap buckets follow GLTR ranks and surprisal in nats; every scored token of a real text lands in one', async () => {
  const rank = (r: number) => bucketOf('rank', { prob: 0.5, rank: r, loss: 0.7 });
  assert.deepEqual([1, 10, 11, 100, 101, 1000, 1001, 50_000].map(rank), [0, 0, 1, 1, 2, 2, 3, 3]);
  const loss = (l: number) => bucketOf('surprisal', { prob: Math.exp(-l), rank: 1, loss: l });
  assert.deepEqual([0, 0.99, 1, 2.4, 2.5, 3.9, 4, 5.9, 6, 30, Infinity].map(loss), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]);
  assert.equal(bucketOf('rank', { prob: null, rank: null, loss: null }), -1);

  const a = await session.analyze(PROMPT + ' Lily. She liked to play outside.\n');
  for (const t of a.tokens.slice(1)) {
    const b = bucketOf('rank', t);
    assert.ok(b >= 0 && t.rank! < BUCKETS.rank[b].below && (b === 0 || t.rank! >= BUCKETS.rank[b - 1].below), `rank ${t.rank} -> ${b}`);
  }
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
