// The compare lens's maths apart from the models: KL divergence of two distributions given as logits, and
// lining two tokenizations of one text up on character offsets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignOnOffsets, klDivergence, largestMoves } from '../../src/core/lenses/compareMaths';

test('KL(P‖Q) from logits: zero for the same distribution (any shift of the logits), the textbook value otherwise', () => {
  assert.equal(klDivergence([1, 2, 3], [1, 2, 3]), 0);
  assert.ok(klDivergence([1, 2, 3], [11, 12, 13]) < 1e-12, 'logits shifted by a constant are the same distribution');
  // P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln (2/3).
  const kl = klDivergence([0, 0], [0, Math.log(3)]);
  assert.ok(Math.abs(kl - (0.5 * Math.log(2) + 0.5 * Math.log(2 / 3))) < 1e-12, String(kl));
  // Not symmetric: KL(Q‖P) = 1/4 ln(1/2) + 3/4 ln(3/2).
  assert.ok(Math.abs(klDivergence([0, Math.log(3)], [0, 0]) - (0.25 * Math.log(0.5) + 0.75 * Math.log(1.5))) < 1e-12);
  assert.throws(() => klDivergence([0, 0], [0, 0, 0]), /vocabularies differ/);
});

test('two tokenizations line up where both have a boundary; losses sum inside each piece', () => {
  // "hello world": A cuts "hel|lo| wor|ld", B cuts "hello| world".
  const a = [{ start: 0, end: 0, loss: null }, { start: 0, end: 3, loss: 1 }, { start: 3, end: 5, loss: 2 }, { start: 5, end: 9, loss: 3 }, { start: 9, end: 11, loss: 4 }];
  const b = [{ start: 0, end: 5, loss: null }, { start: 5, end: 11, loss: 10 }];
  assert.deepEqual(alignOnOffsets(a, b), [
    { start: 0, end: 5, lossA: 3, lossB: null },     // B's first token: nothing predicted it
    { start: 5, end: 11, lossA: 7, lossB: 10 },
  ]);
  assert.deepEqual(largestMoves([0.1, null, -2, 1], 2), [2, 3]);
});
