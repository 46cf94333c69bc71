// The scoring head ranks and picks the best candidates inside the graph: an analysis that asks for no logits
// has the same ranks, candidates and scores as one that brings them out, and a full row is recomputed on demand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadStories260K } from './stories260K';

const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play with her big red ball.';

test('stories260K: ranks and top candidates from the graph match a count over the full logits', async () => {
  const { session, close } = await loadStories260K('tl-ranking-');
  try {
    const lean = await session.analyze(TEXT, { logits: false });
    const full = await session.analyze(TEXT, { fresh: true });
    assert.equal(lean.hasLogits, false);
    assert.equal(full.hasLogits, true);
    for (let t = 0; t < full.tokens.length; t++) {
      const row = await full.row(t);
      if (t + 1 < full.tokens.length) {
        const target = full.tokens[t + 1].id;
        // Counted here, from the logits: 1 + how many beat the actual next token.
        const rank = 1 + row.filter((v) => v > row[target]).length;
        assert.equal(lean.tokens[t + 1].rank, rank, `rank of token ${t + 1}`);
        assert.ok(Math.abs(lean.tokens[t + 1].loss! - full.tokens[t + 1].loss!) <= 1e-5);
      }
      const best = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, 10);
      assert.deepEqual(lean.topK(t, 10).map((c) => c.id), best, `top 10 after token ${t}`);
    }
    // Sampling controls need a full row: recomputed once, then kept.
    const before = session.forwardCount;
    const controls = { temperature: 0.7, topK: 20, topP: 0.9 };
    assert.deepEqual(await lean.distribution(3, controls, 5), await full.distribution(3, controls, 5));
    await lean.distribution(5, controls, 5);
    assert.equal(session.forwardCount, before + 1);
  } finally {
    await close();
  }
});
