// How the Explain panel folds host messages into its state, on messages recorded from the real stories260K.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initialState, reduce } from '../../webview/explain/state';

const fx = JSON.parse(readFileSync(join(__dirname, '..', 'webview', 'fixtures', 'stories260K.json'), 'utf8'));
const last = fx.analysis.tokens.length - 1;

test('an analysis selects the host\'s position and clears busy and error', () => {
  let s = reduce(initialState(), { type: 'busy', message: 'Loading the model…' });
  s = reduce(s, { type: 'error', message: 'boom' });
  assert.equal(s.busy, '');
  s = reduce(s, fx.analysis);
  assert.equal(s.selected, last);
  assert.equal(s.error, null);
  assert.equal(s.baseText, fx.analysis.text);
  assert.deepEqual(s.candidates, fx.analysis.candidates);
});

test('a late distribution for another position or other controls is ignored', () => {
  let s = reduce(initialState(), fx.analysis);
  s = { ...s, selected: 5 };
  const stale = fx.distributions[`${last}|1|0|1`];
  assert.equal(reduce(s, stale), s);
  const fresh = fx.distributions['5|1|0|1'];
  assert.deepEqual(reduce(s, fresh).candidates, fresh.candidates);
  const other = { ...s, controls: { temperature: 0.5, topK: 0, topP: 1 } };
  assert.equal(reduce(other, fresh), other);
});

test('attention for a head no longer shown is ignored; the same text keeps its matrices on re-send', () => {
  let s = reduce(initialState(), fx.analysis);
  s = { ...s, layer: 2, head: 3 };
  assert.equal(reduce(s, fx.attention['0|0']), s);
  s = reduce(reduce(s, fx.attention['2|3']), fx.grids[2]);
  assert.equal(s.attention?.head, 3);
  assert.equal(s.grid?.heads.length, 8);
  const again = reduce(s, fx.analysis);
  assert.equal(again.attention, s.attention);
  assert.equal(reduce(s, fx.appended.analysis).attention, null);
});

test('step-through: text appended since the first analysis is what "insert" would insert', () => {
  let s = reduce(initialState(), fx.analysis);
  s = reduce({ ...s, appending: true }, fx.appended.analysis);
  assert.equal(s.baseText, fx.analysis.text);
  assert.equal(s.analysis!.text.slice(s.baseText.length), fx.appended.text);
  assert.equal(s.appending, false);
  // A new text from the editor (not an append) starts over.
  s = reduce(s, fx.analysis);
  assert.equal(s.baseText, fx.analysis.text);
});

test('lens results belong to one text on one model: the same analysis again keeps them, another model drops them', () => {
  let s = reduce(initialState(), fx.analysis);
  s = reduce(s, fx.logitLens);
  s = reduce(s, fx.attributions['occlusion|null|null|64']);
  s = { ...s, lensCell: { layer: 1, position: 2 } };
  // The host re-sends the analysis when a hidden panel comes back.
  const again = reduce(s, fx.analysis);
  assert.equal(again.logitLens, s.logitLens);
  assert.equal(again.attribution, s.attribution);
  assert.deepEqual(again.lensCell, { layer: 1, position: 2 });
  // Same text, another model: its lenses must be asked for, not the old ones shown.
  const other = reduce(s, { ...fx.analysis, model: { ...fx.analysis.model, id: 'gpt2-tiny' } });
  assert.equal(other.logitLens, null);
  assert.equal(other.attribution, null);
  assert.equal(other.lensCell, null);
  assert.equal(other.attributionRequest.target, null);
});

test('an engine without gradients: a gradient method asked before gives way to occlusion, and its result is dropped', () => {
  let s = reduce(initialState(), fx.analysis);
  s = { ...s, attributionRequest: { ...s.attributionRequest, method: 'gradient' } };
  s = reduce(s, fx.attributions['gradient|null|null|64']);
  const note = 'llama.cpp does not compute gradients (occlusion attribution only)';
  const llama = reduce(s, { ...fx.analysis, gradientsNote: note });
  assert.equal(llama.attributionRequest.method, 'occlusion');
  assert.equal(llama.attribution, null);
  // Occlusion's own result stays when the same analysis comes again.
  const occ = reduce(reduce(llama, fx.attributions['occlusion|null|null|64']), { ...fx.analysis, gradientsNote: note });
  assert.equal(occ.attribution?.method, 'occlusion');
  // With gradients, the method asked for is kept.
  assert.equal(reduce(s, fx.analysis).attributionRequest.method, 'gradient');
});

test('lens status: running until the result, which clears it; a host-sent tab comes to the front', () => {
  let s = reduce(initialState(), fx.analysis);
  s = reduce(s, { type: 'lensStatus', lens: 'attribution', status: 'running', message: 'Attribution: 1 of 4…', done: 1, total: 4 });
  assert.equal(s.lensStatus.attribution?.done, 1);
  assert.equal(s.lensStatus.logitLens, null);
  s = reduce(s, fx.attributions['gradient|null|null|64']);
  assert.equal(s.lensStatus.attribution, null);
  assert.equal(s.attribution?.method, 'gradient');
  assert.equal(reduce(s, { type: 'showTab', tab: 'attribution' }).tab, 'attribution');
});
