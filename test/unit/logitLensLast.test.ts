// The logit lens of the last position only (the editor's inline hint): the same cells and decision depth as the
// last column of the full grid, on stories260K loaded as a user loads it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { logitLens } from '../../src/core/lenses/logitLens';
import { ModelSession } from '../../src/core/runtime/session';
import { stories } from './lensModels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-logit-lens-last-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('lastPosition: one column, equal to the full grid\'s last column', async () => {
  const m = await stories(tmp);
  const s = await ModelSession.load(m.dir, { cacheDir: path.join(tmp, 'cache') });
  try {
    const full = await logitLens(s, m.text, 5);
    const last = await logitLens(s, m.text, 5, { lastPosition: true });
    const T = full.decisionDepth.length;
    assert.equal(last.layers, full.layers);
    assert.deepEqual(last.top.map((row) => row.length), full.top.map(() => 1));
    for (let l = 0; l < full.layers; l++) {
      assert.deepEqual(last.top[l][0].map((c) => c.id), full.top[l][T - 1].map((c) => c.id), `block ${l}`);
      last.top[l][0].forEach((c, j) => assert.ok(Math.abs(c.prob - full.top[l][T - 1][j].prob) < 1e-6));
    }
    assert.deepEqual(last.decisionDepth, [full.decisionDepth[T - 1]]);
    // The hint reads the model's own next-token guess.
    assert.equal(last.top[full.layers - 1][0][0].text, ' Lily');
  } finally {
    await s.dispose();
  }
});
