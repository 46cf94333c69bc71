// Incremental re-analysis equals a full pass: random edits (insert, delete, replace; at the start, in the
// middle, at the end; across token boundaries), each analysed incrementally after the previous one, as typing
// does, and compared with a fresh full pass of the same text. Real stories260K, a GPT-2 model with GPT-2's
// real tokenizer, and two Hub layouts (a merged decoder with `use_cache_branch`; `position_ids` with
// grouped-query attention).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { gpt2Config } from '../../src/core/models/presets';
import { writeModelFolder } from '../../src/core/models/folder';
import { randomWeights } from '../../src/core/models/random';
import { gpt2TokenizerFiles } from '../../src/core/tokenizers/gpt2';
import type { Analysis } from '../../src/core/runtime/analysis';
import { ModelSession } from '../../src/core/runtime/session';
import { loadStories260K } from './stories260K';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-incremental-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big red ball under a tree. "Can I play with it?" she asked her mom. Her mom said yes, ' +
  'and Lily ran to the ball with a happy smile.';
const PIECES = ['a', 'e', ' ', 'the', ' ball', '.', ',', 'Lily', '"', 'xyz', ' \n', 'é', '12', 'ing'];

/** A small seeded generator (mulberry32): the same edits on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Edit = { kind: 'insert' | 'delete' | 'replace'; place: 'start' | 'middle' | 'end' | 'boundary'; at: number; removed: number; inserted: string };

/** One random edit of `text`; `boundary` edits straddle the border between two tokens of the analysis. */
function randomEdit(text: string, analysis: Analysis, random: () => number, i: number): Edit {
  const kinds = ['insert', 'delete', 'replace'] as const;
  const places = ['start', 'middle', 'end', 'boundary'] as const;
  const kind = kinds[i % 3];
  const place = places[Math.floor(i / 3) % 4];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const removed = kind === 'insert' ? 0 : 1 + Math.floor(random() * 4);
  let at: number;
  if (place === 'start') at = Math.floor(random() * 3);
  else if (place === 'end') at = text.length - removed - Math.floor(random() * 3);
  else if (place === 'middle') at = Math.floor(text.length * (0.3 + 0.4 * random()));
  else {
    const inner = analysis.tokens.filter((t) => !t.special && t.start > 2 && t.start < text.length - 4);
    at = Math.max(0, pick(inner).start - (kind === 'insert' ? 0 : Math.floor(removed / 2)));
  }
  at = Math.max(0, Math.min(at, text.length - removed));
  return { kind, place, at, removed, inserted: kind === 'delete' ? '' : pick(PIECES) };
}

function close(a: number | null, b: number | null, what: string): void {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= 1e-4, `${what}: ${a} vs ${b}`);
}

async function sameAsFullPass(session: ModelSession, incremental: Analysis, text: string, what: string): Promise<void> {
  const full = await session.analyze(text, { fresh: true });
  assert.notEqual(full, incremental);
  assert.deepEqual(incremental.tokens.map((t) => [t.id, t.start, t.end]), full.tokens.map((t) => [t.id, t.start, t.end]), `${what}: tokens`);
  incremental.tokens.forEach((t, i) => {
    close(t.loss, full.tokens[i].loss, `${what}: loss of token ${i}`);
    close(t.prob, full.tokens[i].prob, `${what}: prob of token ${i}`);
    assert.equal(t.rank, full.tokens[i].rank, `${what}: rank of token ${i}`);
  });
  close(incremental.meanLoss, full.meanLoss, `${what}: mean loss`);
  for (let p = 0; p < full.tokens.length; p++) {
    const a = incremental.topK(p, 5);
    const b = full.topK(p, 5);
    assert.deepEqual(a.map((c) => c.id), b.map((c) => c.id), `${what}: top ids at ${p}`);
    a.forEach((c, j) => close(c.prob, b[j].prob, `${what}: top prob at ${p}`));
  }
  // Full rows: joined from the kept analysis and the continued pass, or recomputed.
  for (const p of [0, Math.floor(full.tokens.length / 2), full.tokens.length - 1]) {
    const a = await incremental.row(p);
    const b = await full.row(p);
    let worst = 0;
    for (let v = 0; v < b.length; v++) worst = Math.max(worst, Math.abs(a[v] - b[v]));
    assert.ok(worst <= 1e-4, `${what}: logits row ${p} differ by ${worst}`);
  }
}

/** Edits `text` 24 times (every kind at every place, twice), each analysed incrementally and checked. */
async function editAndCompare(session: ModelSession, text: string, seed: number): Promise<void> {
  const random = rng(seed);
  let analysis = await session.analyze(text, { incremental: true });
  let reusedAtEnd = 0;
  // A text analysed before is answered from the cache: only new texts test the pass.
  const seen = new Set([text]);
  for (let i = 0; i < 24; i++) {
    const edit = randomEdit(text, analysis, random, i);
    const next = text.slice(0, edit.at) + edit.inserted + text.slice(edit.at + edit.removed);
    if (seen.has(next) || !next.trim()) continue;
    seen.add(next);
    const what = `edit ${i} (${edit.kind} at ${edit.place}, offset ${edit.at})`;
    const before = session.forwardCount;
    analysis = await session.analyze(next, { incremental: true });
    assert.equal(session.forwardCount, before + 1, `${what}: one pass`);
    const reused = session.lastReusedTokens;
    // Only tokens before the edit can be reused, and an edit past the first few tokens reuses some.
    assert.ok(reused < analysis.tokenIndexAt(edit.at) + 1, `${what}: reused ${reused} tokens, past the edit`);
    if (edit.place === 'end') {
      assert.ok(reused >= analysis.tokens.length - 8, `${what}: reused only ${reused} of ${analysis.tokens.length} tokens`);
      reusedAtEnd++;
    }
    await sameAsFullPass(session, analysis, next, what);
    text = next;
  }
  assert.ok(reusedAtEnd >= 4);
}

test('stories260K: incremental re-analysis after random edits equals a full pass', async () => {
  const { session, close: done } = await loadStories260K('tl-incremental-stories-');
  try {
    await editAndCompare(session, STORY, 1);
  } finally {
    await done();
  }
});

test('GPT-2 (real tokenizer): incremental re-analysis after random edits equals a full pass', async () => {
  const folder = path.join(tmp, 'gpt2');
  const config = gpt2Config({ n_layer: 2, n_head: 2, n_embd: 32, block_size: 256, vocab_size: 50257 });
  await writeModelFolder(folder, { config, weights: randomWeights(config, 3), tokenizer: gpt2TokenizerFiles(), attentionOutputs: true });
  const session = await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache'), offline: true, threads: 1 });
  try {
    await editAndCompare(session, STORY, 2);
  } finally {
    await session.dispose();
  }
});

for (const layout of ['gpt2-merged', 'llama-opset14']) {
  test(`Hub export ${layout}: incremental re-analysis equals a full pass`, async () => {
    const folder = path.join(__dirname, '..', 'fixtures', 'hub', layout);
    const session = await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache'), offline: true, threads: 1 });
    try {
      // A character vocabulary and a 64-token context: a short text.
      await editAndCompare(session, 'the cat sat on the mat and the dog ran off', 3);
    } finally {
      await session.dispose();
    }
  });
}

test('an analysis with attention runs every token; the next edit continues from a kept cache again', async () => {
  const { session, close: done } = await loadStories260K('tl-incremental-attention-');
  try {
    await session.analyze(STORY, { incremental: true });
    const withAttention = await session.analyze(`${STORY} The end.`, { incremental: true, attention: true });
    assert.equal(session.lastReusedTokens, 0);
    assert.ok(withAttention.attention);
    const continued = await session.analyze(`${STORY} The end!`, { incremental: true });
    assert.ok(session.lastReusedTokens > 50);
    await sameAsFullPass(session, continued, `${STORY} The end!`, 'after attention');
  } finally {
    await done();
  }
});

test('a memory budget too small for a KV cache keeps none: every analysis is a full pass, with the same result', async () => {
  const { folder, close: done } = await loadStories260K('tl-incremental-budget-');
  // Room for an analysis's scores and candidates (~85 KB at 90 tokens), not for its KV cache besides (~115 KB).
  const session = await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache-budget'), offline: true, threads: 1, memoryBudgetBytes: 120_000 });
  try {
    await session.analyze(STORY, { incremental: true });
    const edited = await session.analyze(`${STORY} The end.`, { incremental: true });
    assert.equal(session.lastReusedTokens, 0);
    await sameAsFullPass(session, edited, `${STORY} The end.`, 'tiny budget');
  } finally {
    await session.dispose();
    await done();
  }
});
