// The webview protocol: the host's gatekeeper for every message a webview posts, and attention downsampling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LIMITS, WebviewMessageType, downsample, validateWebviewMessage, webviewMessage } from '../../src/protocol';

const valid = [
  { type: 'ready' },
  { type: 'selectPosition', position: 0 },
  { type: 'selectPosition', position: 511 },
  { type: 'setControls', temperature: 0.7, topK: 40, topP: 0.95 },
  { type: 'setControls', temperature: 1, topK: 0, topP: 1 },
  { type: 'requestAttention', layer: 4, head: 7 },
  { type: 'appendToken', tokenId: 284, text: ' the' },
  { type: 'insertIntoDocument', text: ' the end' },
  { type: 'copy', text: '"the"\t0.5\t3.2' },
  { type: 'requestLogitLens' },
  { type: 'requestAttribution', method: 'occlusion', target: null, contrast: null, steps: 64 },
  { type: 'requestAttribution', method: 'integrated-gradients', target: 3706, contrast: 12, steps: 1024 },
  { type: 'cancelLens' },
  { type: 'compareWith' },
];

test('every well-formed webview message passes unchanged', () => {
  for (const m of valid) assert.deepEqual(validateWebviewMessage(m), m);
  // Every message type has a valid example above.
  assert.deepEqual(new Set(valid.map((m) => m.type)), new Set(Object.values(WebviewMessageType)));
});

test('the typed constructor builds what the validator accepts', () => {
  const m = webviewMessage('requestAttention', { layer: 1, head: 2 });
  assert.deepEqual(m, { type: 'requestAttention', layer: 1, head: 2 });
  assert.deepEqual(validateWebviewMessage(m), m);
});

const invalid: [unknown, RegExp][] = [
  [null, /object/],
  ['ready', /object/],
  [[{ type: 'ready' }], /object/],
  [{}, /unknown message type/],
  [{ type: 'deleteEverything' }, /unknown message type/],
  [{ type: 'toString' }, /unknown message type/],
  [{ type: '__proto__' }, /unknown message type/],
  [{ type: 'ready', extra: 1 }, /unexpected field "extra"/],
  // "Compare with…" carries nothing: the host asks the user which model, never the webview.
  [{ type: 'compareWith', ref: '/etc' }, /unexpected field "ref"/],
  [{ type: 'selectPosition' }, /position must be an integer/],
  [{ type: 'selectPosition', position: '3' }, /position must be an integer/],
  [{ type: 'selectPosition', position: 1.5 }, /position must be an integer/],
  [{ type: 'selectPosition', position: -1 }, /position must be in/],
  [{ type: 'selectPosition', position: LIMITS.position + 1 }, /position must be in/],
  [{ type: 'setControls', temperature: 0, topK: 0, topP: 1 }, /temperature must be in/],
  [{ type: 'setControls', temperature: NaN, topK: 0, topP: 1 }, /temperature must be a finite number/],
  [{ type: 'setControls', temperature: Infinity, topK: 0, topP: 1 }, /temperature must be a finite number/],
  [{ type: 'setControls', temperature: 1, topK: -1, topP: 1 }, /topK must be in/],
  [{ type: 'setControls', temperature: 1, topK: 2.5, topP: 1 }, /topK must be an integer/],
  [{ type: 'setControls', temperature: 1, topK: 0, topP: 0 }, /topP must be in \(0, 1\]/],
  [{ type: 'setControls', temperature: 1, topK: 0, topP: 1.01 }, /topP must be in/],
  [{ type: 'setControls', temperature: 1, topK: 0 }, /topP must be a finite number/],
  [{ type: 'requestAttention', layer: 0, head: 1e9 }, /head must be in/],
  [{ type: 'appendToken', tokenId: 3, text: 'x'.repeat(LIMITS.tokenText + 1) }, /at most 1000 characters/],
  [{ type: 'appendToken', tokenId: 3, text: 42 }, /text must be a string/],
  [{ type: 'insertIntoDocument', text: 'x'.repeat(LIMITS.text + 1) }, /at most 100000 characters/],
  [{ type: 'copy' }, /text must be a string/],
  [{ type: 'requestLogitLens', layer: 2 }, /unexpected field "layer"/],
  [{ type: 'requestAttribution', method: 'saliency', target: null, contrast: null, steps: 64 }, /method must be one of occlusion, gradient, integrated-gradients/],
  [{ type: 'requestAttribution', method: 'gradient', target: ' Lily', contrast: null, steps: 64 }, /target must be an integer/],
  [{ type: 'requestAttribution', method: 'gradient', target: null, steps: 64 }, /contrast must be an integer/],
  [{ type: 'requestAttribution', method: 'integrated-gradients', target: null, contrast: null, steps: 1025 }, /steps must be in \[1, 1024\]/],
  [{ type: 'requestAttribution', method: 'integrated-gradients', target: null, contrast: null, steps: 0 }, /steps must be in/],
];

test('malformed messages are refused with the reason', () => {
  for (const [m, reason] of invalid) {
    const r = validateWebviewMessage(m);
    assert.ok(r instanceof Error, `accepted ${JSON.stringify(m)}`);
    assert.match(r.message, reason, JSON.stringify(m));
  }
});

test('the validator never throws, whatever arrives', () => {
  fc.assert(fc.property(fc.anything(), (x) => {
    const r = validateWebviewMessage(x);
    return r instanceof Error || r === x;
  }), { numRuns: 2000 });
  fc.assert(fc.property(fc.constantFrom(...Object.values(WebviewMessageType)), fc.dictionary(fc.string(), fc.anything()),
    (type, fields) => { validateWebviewMessage({ ...fields, type }); return true; }), { numRuns: 2000 });
});

test('downsampling a 4 x 4 causal attention matrix to 2 x 2: rows averaged, columns summed', () => {
  const w = [
    1, 0, 0, 0,
    0.5, 0.5, 0, 0,
    0.2, 0.3, 0.5, 0,
    0.1, 0.1, 0.4, 0.4,
  ];
  const d = downsample(w, 4, 2);
  assert.equal(d.size, 2);
  // Block (0,0): rows 0-1, cols 0-1: (1 + 0.5 + 0.5) / 2 rows = 1; block (1,0): (0.2+0.3+0.1+0.1)/2 = 0.35.
  const expected = [1, 0, 0.35, 0.65];
  d.weights.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-12, `${i}: ${v}`));
});

test('downsampling keeps small matrices as they are and keeps every row a distribution', () => {
  const w = [1, 0, 0.25, 0.75];
  assert.deepEqual(downsample(w, 2, 32), { size: 2, weights: w });
  fc.assert(fc.property(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 32 }), fc.integer(), (n, max, seed) => {
    // A random causal row-stochastic matrix.
    let s = seed >>> 0;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const m = new Float32Array(n * n);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      for (let c = 0; c <= r; c++) sum += (m[r * n + c] = rand() + 1e-3);
      for (let c = 0; c <= r; c++) m[r * n + c] /= sum;
    }
    const d = downsample(m, n, max);
    assert.equal(d.size, Math.min(n, max));
    for (let r = 0; r < d.size; r++) {
      const row = d.weights.slice(r * d.size, (r + 1) * d.size);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      // Blocks strictly above the diagonal cover only masked cells.
      for (let c = r + 1; c < d.size; c++) {
        const firstCol = Math.floor((c * n) / d.size), lastRow = Math.floor(((r + 1) * n) / d.size) - 1;
        if (firstCol > lastRow) assert.equal(row[c], 0);
      }
    }
  }), { numRuns: 300 });
});
