// The Explain panel's browser test replays test/webview/fixtures/stories260K.json. This keeps that file what the
// host's message builder (protocol/fromAnalysis.ts) makes today on the real model: change the builder or the
// messages, and this fails until `npm run fixtures:webview` records them again.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { ModelSession } from '../../src/core/runtime/session';
import { FIXTURE, recordFixture } from '../webview/make-fixtures';

const shared = join(__dirname, '..', '..', 'vendor', 'stories260K');

/** Same keys everywhere, same strings and integers, floats within `tol` (ORT builds may differ in the last bits). */
function assertClose(actual: unknown, expected: unknown, path = '$', tol = 2e-4): void {
  if (typeof expected === 'number' && typeof actual === 'number' && !(Number.isInteger(expected) && Number.isInteger(actual))) {
    assert.ok(Math.abs(actual - expected) <= tol, `${path}: ${actual} vs ${expected}`);
    return;
  }
  if (typeof expected !== 'object' || expected === null) {
    assert.equal(actual, expected, path);
    return;
  }
  assert.equal(Array.isArray(actual), Array.isArray(expected), `${path}: array or not`);
  assert.ok(typeof actual === 'object' && actual !== null, `${path}: not an object`);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: keys`);
  for (const k of Object.keys(expected)) assertClose((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`, tol);
}

test('the committed browser-test fixture is what the host\'s builder records on stories260K now', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'token-lens-fixture-'));
  const folder = join(tmp, 'stories260K');
  await importLlama2c({ checkpoint: join(shared, 'stories260K.bin'), tokenizer: join(shared, 'tok512.bin'), out: folder });
  const session = await ModelSession.load(folder, { cacheDir: join(tmp, 'cache'), offline: true, threads: 1 });
  try {
    const recorded = await recordFixture(session) as Record<string, { kept?: unknown }>;
    // What the footer's "sampling keeps N" reads: a plain number at the top of each message.
    assert.equal(typeof recorded.analysis.kept, 'number');
    assertClose(recorded, JSON.parse(readFileSync(FIXTURE, 'utf8')));
  } finally {
    await session.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
});
