// The two independent references agree: the plain-JS forward over each Hugging Face fixture (test/reference)
// and the PyTorch outputs committed beside it (test/fixtures/import/make_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfReferenceForward, perTokenLoss } from '../reference/hfReference';

const FIXTURES = join(__dirname, '..', 'fixtures', 'import');
export const HF_FIXTURES = ['gpt2', 'gpt2-untied', 'llama', 'llama3', 'qwen2', 'mistral', 'gpt_neox'];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const name of HF_FIXTURES) {
  test(`reference forward of ${name} matches PyTorch`, () => {
    const want = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8'));
    const got = hfReferenceForward(join(FIXTURES, name), want.ids);
    want.logits.forEach((r: number[], t: number) => assert.ok(maxDiff(got.logits[t], r) < 1e-5, `logits row ${t}: ${maxDiff(got.logits[t], r)}`));
    assert.ok(maxDiff(perTokenLoss(got.logits, want.ids), want.loss) < 1e-5);
    want.attention.forEach((layer: number[][][], l: number) => layer.forEach((head, h) =>
      assert.ok(maxDiff(got.attention[l][h], head.flat()) < 1e-6, `attention ${l}.${h}`)));
  });
}
