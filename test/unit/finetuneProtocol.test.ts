// The run snapshot both sides fold: long runs keep a bounded curve, and controls only move the phases they should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSettings, emptyRun, foldRun, isActive, MAX_POINTS, type FineTuneHostToView } from '../../src/protocol/finetune';
import { initialState, reduce, withBase } from '../../webview/finetune/state';

const progress = (step: number, steps: number): FineTuneHostToView =>
  ({ type: 'progress', step, steps, loss: 5 / step, valLoss: step % 100 === 0 ? 4 / step : null, tokensPerSec: 1000, etaSec: steps - step, lr: 1e-3 });

test('a 20 000-step run keeps at most MAX_POINTS train points, in order, ending at the last step', () => {
  let run = foldRun(emptyRun(), { type: 'runStarting', settings: defaultSettings('toy'), fileName: 'a.txt', steps: 20_000 });
  for (let s = 1; s <= 20_000; s++) run = foldRun(run, progress(s, 20_000));
  assert.ok(run.train.length <= MAX_POINTS && run.train.length > MAX_POINTS / 2, `${run.train.length}`);
  assert.equal(run.train.at(-1)!.step, 20_000);
  assert.ok(run.train.every((p, i) => i === 0 || p.step > run.train[i - 1].step));
  assert.ok(run.val.length <= MAX_POINTS && run.val.at(-1)!.step === 20_000);
  assert.equal(run.phase, 'running');
});

test('pause and resume move only a running run; stop, finish and failure end it', () => {
  let run = foldRun(emptyRun(), { type: 'paused' });
  assert.equal(run.phase, 'idle');
  run = foldRun(run, { type: 'runStarting', settings: defaultSettings('toy'), fileName: 'a.txt', steps: 10 });
  run = foldRun(run, { type: 'started', batch: 16, block: 64, notes: [] });
  assert.equal(run.phase, 'running');
  run = foldRun(run, { type: 'paused' });
  assert.equal(run.phase, 'paused');
  assert.equal(foldRun(run, { type: 'resumed' }).phase, 'running');
  assert.ok(isActive(foldRun(run, { type: 'stopping' }).phase));
  assert.equal(foldRun(run, { type: 'failed', message: 'x' }).phase, 'failed');
  assert.ok(!isActive('finished') && !isActive('failed') && !isActive('idle'));
});

test('the view: a base that disappears falls back to a preset; switching to fine-tuning picks fine-tuning defaults', () => {
  let s = { ...initialState(), form: { ...defaultSettings('current') } };
  s = reduce(s, { type: 'context', file: null, current: { ref: 'Xenova/gpt2', usable: false, reason: 'not Token Lens' }, folder: null, presets: [] });
  assert.equal(s.form.base, 'toy');
  const ft = withBase(defaultSettings('toy'), 'current');
  assert.equal(ft.steps, defaultSettings('current').steps);
  assert.equal(withBase({ ...ft, mode: 'lora' }, 'toy').mode, 'full', 'presets train every weight');
  assert.equal(withBase({ ...ft, steps: 7 }, 'folder').steps, 7, 'a fine-tune to fine-tune switch keeps the user\'s steps');
});
