// The Hub layout fixtures (test/fixtures/hub) served the way the Hub serves repositories, and the check
// that a loaded layout gives the reference logits and attention.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelSession } from '../../src/core/runtime/session';
import { attentionWeights } from './attentionOf';
import { HUB_FIXTURES as HUB, type HubServer, startHub } from './hubServer';

export { HUB };

export interface Reference { text: string; ids: number[]; logits: number[]; attention: number[][][] }
export const reference = (family: string): Reference =>
  JSON.parse(fs.readFileSync(path.join(HUB, `${family}.reference.json`), 'utf8'));

export interface FixtureHub extends HubServer {
  load(name: string, cacheDir: string): Promise<ModelSession>;
}

/**
 * Serves /token-lens-test/{folder}/resolve/main/{file} from test/fixtures/hub; repositories named local-*
 * come from `localRoot` (folders a test writes).
 */
export async function serveFixtureHub(localRoot: string): Promise<FixtureHub> {
  const hub = await startHub(localRoot);
  return { ...hub, load: (name, cacheDir) => ModelSession.load(`token-lens-test/${name}`, { cacheDir, remoteHost: hub.host }) };
}

export interface Tolerance { logits: number; attention: number; rowSum: number }

/**
 * Asserts that a session gives the reference's token ids, logits, losses and attention (causal zeros, rows
 * summing to 1) within `tol`. Returns the largest differences seen.
 */
export async function checkLayout(session: ModelSession, ref: Reference, tol: Tolerance): Promise<{ logits: number; attention: number }> {
  assert.equal(session.info.attention, 'available', session.info.attentionNote);
  const a = await session.analyze(ref.text, { attention: true });
  assert.deepEqual(a.tokens.map((t) => t.id), ref.ids);
  const T = ref.ids.length;
  const V = a.vocabSize;
  let worst = 0;
  for (let t = 0; t < T; t++) {
    const row = await a.row(t);
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(row[v] - ref.logits[t * V + v]));
  }
  assert.ok(worst <= tol.logits, `logits differ from the reference by ${worst}`);
  // The loss the scoring head computes is the reference's cross-entropy.
  for (let t = 1; t < T; t++) {
    const row = ref.logits.slice((t - 1) * V, t * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    assert.ok(Math.abs(a.tokens[t].loss! - (lse - row[ref.ids[t]])) <= 2 * tol.logits, `loss at ${t}`);
  }
  const att = a.attention!;
  const weights = await attentionWeights(a);
  assert.ok(att, 'attention was asked for');
  assert.equal(att.layers, ref.attention.length);
  assert.equal(att.heads, ref.attention[0].length);
  let worstAtt = 0;
  for (let l = 0; l < att.layers; l++) {
    for (let h = 0; h < att.heads; h++) {
      const w = weights[l][h];
      for (let q = 0; q < T; q++) {
        let sum = 0;
        for (let k = 0; k < T; k++) {
          sum += w[q * T + k];
          if (k > q) assert.equal(w[q * T + k], 0, `causal zero at layer ${l} head ${h} (${q}, ${k})`);
          worstAtt = Math.max(worstAtt, Math.abs(w[q * T + k] - ref.attention[l][h][q * T + k]));
        }
        assert.ok(Math.abs(sum - 1) <= tol.rowSum, `row ${q} sums to ${sum}`);
      }
    }
  }
  assert.ok(worstAtt <= tol.attention, `attention differs from the reference by ${worstAtt}`);
  return { logits: worst, attention: worstAtt };
}
