// Probabilities and perplexities as users read them, on edge cases and on the real numbers stories260K produces.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadStories260K } from './stories260K';
import { percent, perplexity } from '../../src/core/numberFormat';
import type { ModelSession } from '../../src/core/runtime/session';

const PROMPT = 'Once upon a time, there was a little girl named';
let session: ModelSession;
let close: () => Promise<void>;

before(async () => {
  ({ session, close } = await loadStories260K('token-lens-format-'));
});

after(async () => {
  await close?.();
});

/** The number a formatted percentage stands for, and how far from it the true value may be. */
function readPercent(s: string): { value: number; halfStep: number } {
  const m = /^(\d+)(?:\.(\d+))?%$/.exec(s);
  assert.ok(m, `not a plain percentage: ${s}`);
  return { value: Number(`${m[1]}.${m[2] ?? '0'}`) / 100, halfStep: 0.5 * 10 ** -(m[2]?.length ?? 0) / 100 };
}

test('percent: edge cases', () => {
  const cases: [number, string][] = [
    [0, '0%'], [1, '100%'], [1.0000001, '100%'], [0.9512, '95.1%'], [0.1, '10.0%'], [0.068, '6.80%'],
    [0.0068, '0.68%'], [0.001, '0.10%'], [0.00068, '0.068%'], [0.0001, '0.010%'], [0.00009999, '<0.01%'],
    [1e-12, '<0.01%'], [0.9994, '99.9%'], [0.9995, '>99.9%'], [0.99999999, '>99.9%'], [NaN, '–'], [-0.1, '–'],
  ];
  for (const [p, s] of cases) assert.equal(percent(p), s, `percent(${p})`);
});

test('perplexity: decimals while small, grouped thousands, then powers of ten', () => {
  const cases: [number, string][] = [
    [1.1053, '1.11'], [12.3456, '12.35'], [99.994, '99.99'], [100, '100'], [4821.7, '4,822'], [999_999.4, '999,999'],
    [1_000_000, '1.00 × 10⁶'], [309_072_870.66, '3.09 × 10⁸'], [9.999e9, '1.00 × 10¹⁰'], [Infinity, '∞'], [NaN, '–'],
  ];
  for (const [x, s] of cases) assert.equal(perplexity(x), s, `perplexity(${x})`);
});

test('every probability of real analyses reads as a plain percentage within its rounding', async () => {
  const texts = [PROMPT + ' Lily.', 'SELECT * FROM users WHERE id = 42; zzqx', '{"κ": [0xFF]} ∑∫ 漢字 qqqq zzzz'];
  let tiny = 0;
  for (const text of texts) {
    const a = await session.analyze(text);
    const probs = a.tokens.slice(1).map((t) => t.prob!);
    for (let p = 0; p < a.tokens.length; p++) probs.push(...a.topK(p, 10).map((c) => c.prob));
    for (const p of probs) {
      const s = percent(p);
      assert.doesNotMatch(s, /e/i, `${p} -> ${s}`);
      if (s === '<0.01%' || s === '>99.9%') {
        assert.ok(s === '<0.01%' ? p < 1e-4 : p >= 0.9995 && p < 1, `${p} -> ${s}`);
        tiny += Number(s === '<0.01%');
        continue;
      }
      const { value, halfStep } = readPercent(s);
      assert.ok(Math.abs(value - p) <= halfStep * 1.0001, `${p} -> ${s}`);
      // Two significant digits at least, so small candidates stay comparable.
      assert.ok(s.replace(/^[0.]+/, '').replace('%', '').replace('.', '').length >= 2, `${p} -> ${s}`);
    }
  }
  assert.ok(tiny > 0, 'the odd texts have tokens under 0.01%');
});

test('the top 10 at temperature 0.5 hold almost all, but not all, of the probability: not "100%"', async () => {
  const a = await session.analyze(PROMPT);
  const d = await a.distribution(a.tokens.length - 1, { temperature: 0.5, topK: 0, topP: 1 }, 10);
  const mass = d.reduce((s, c) => s + c.prob, 0);
  assert.ok(mass < 1 && mass > 0.9995, `mass ${mass}`);
  assert.equal(percent(mass), '>99.9%');
  // The top token alone holds 99.8%: the old format rounded it to 100%.
  assert.ok(d[0].prob > 0.995 && d[0].prob < 0.9995, `top ${d[0].prob}`);
  assert.match(percent(d[0].prob), /^99\.[5-9]%$/);
});

test('real perplexities: a familiar story, code, and text the model never saw', async () => {
  const story = await session.analyze(PROMPT + ' Lily.');
  assert.ok(story.perplexity < 100);
  assert.equal(perplexity(story.perplexity), story.perplexity.toFixed(2));
  const code = await session.analyze('SELECT * FROM users WHERE id = 42; zzqx');
  assert.ok(code.perplexity >= 1000 && code.perplexity < 1e6, `${code.perplexity}`);
  assert.match(perplexity(code.perplexity), /^\d{1,3}(,\d{3})+$/);
  assert.equal(Number(perplexity(code.perplexity).replace(/,/g, '')), Math.round(code.perplexity));
  const odd = await session.analyze('{"κ": [0xFF, 0x7F]} ∑∫ 漢字 qqqq zzzz xxxx');
  assert.ok(odd.perplexity >= 1e6, `${odd.perplexity}`);
  const m = /^(\d\.\d\d) × 10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(perplexity(odd.perplexity));
  assert.ok(m, perplexity(odd.perplexity));
  const exponent = Number([...m[2]].map((c) => '⁰¹²³⁴⁵⁶⁷⁸⁹'.indexOf(c)).join(''));
  assert.ok(Math.abs(Number(m[1]) * 10 ** exponent - odd.perplexity) / odd.perplexity < 0.006);
});
