// Extension-host suite for memory and cancellation, on a GPT-2-small-shaped model (random weights, the real
// GPT-2 tokenizer, a 256-token context; written by `token-lens write-random`). The workspace's models.json
// names that folder and the stories260K folder; the suite sets tokenLens.model (user settings) and restores it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
const note = (line: string) => console.log(`[memory] ${line}`);
const MB = 2 ** 20;
let api: TokenLensApi;
let models: { gpt2: string; stories260K: string };
let userModel: string | undefined;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** What the extension host's process retains: the JS heap plus memory outside it (ArrayBuffers, ORT tensors). */
function retained(): { heap: number; external: number; total: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, total: m.heapUsed + m.external };
}

function folder(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert(f, 'no workspace folder');
  return f.uri.fsPath;
}

const WORDS = ('the lighthouse keeper climbed spiral stairs every evening counting each step out loud so silence ' +
  'would not swallow him at top he wiped great lens with soft cloth lit lamp and watched beam sweep across ' +
  'restless water ships never meet passed safely in dark').split(' ');

/** A deterministic English-like document, different for each seed. */
function documentText(seed: number, words: number): string {
  let s = seed * 7919 + 17;
  const lines: string[] = [];
  let line: string[] = [];
  for (let i = 0; i < words; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    line.push(WORDS[s % WORDS.length]);
    if (line.length === 12) {
      lines.push(line.join(' '));
      line = [];
    }
  }
  return `${[...lines, line.join(' ')].join('\n')}\n`;
}

async function open(name: string, text: string): Promise<vscode.TextDocument> {
  const file = join(folder(), name);
  if (!existsSync(file)) writeFileSync(file, text);
  return vscode.workspace.openTextDocument(vscode.Uri.file(file));
}

test('activate and load the GPT-2-small-shaped model', async () => {
  api = await vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!.activate();
  models = JSON.parse(readFileSync(join(folder(), 'models.json'), 'utf8'));
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  userModel = cfg.inspect<string>('model')?.globalValue;
  await cfg.update('model', models.gpt2, vscode.ConfigurationTarget.Global);
  const now = vscode.workspace.getConfiguration('tokenLens');
  assert(now.get('model') === models.gpt2, `tokenLens.model is ${now.get('model')}`);
  assert(now.get('memoryBudgetMB') === 300, `memoryBudgetMB is ${now.get('memoryBudgetMB')}`);
  // The heatmap loads the model (a hover never does); turning it off again leaves the model loaded.
  await vscode.window.showTextDocument(await open('warm.txt', documentText(999, 40)));
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  await eventually(() => api.heatmapDecorationCount() > 0, 'heatmap decorations', 120_000);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  assert(api.modelState() === 'ready', `model state ${api.modelState()}`);
}, 180_000);

test('1,000 hovers across 20 documents: the extension host retains no more than the memory budget', async () => {
  const docs = await Promise.all(Array.from({ length: 20 }, (_, i) => open(`doc-${String(i).padStart(2, '0')}.txt`, documentText(i, 200))));
  // A first hover per document once, so that what is measured is what the hovers keep, not first-use costs.
  const warm = await api.hoverText(docs[0].uri.toString(), 1, 3);
  assert(warm?.includes('predicted here'), `no hover: ${warm}`);
  const before = retained();
  const budget = api.runtimeStats()!.budgetBytes;
  const forwardsBefore = api.runtimeStats()!.forwards;
  let s = 12345;
  let shown = 0;
  const t0 = Date.now();
  for (let i = 0; i < 1000; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const doc = docs[i % docs.length];
    const pos = doc.positionAt(s % doc.getText().length);
    if ((await api.hoverText(doc.uri.toString(), pos.line, pos.character))?.includes('predicted here')) shown++;
    assert(api.runtimeStats()!.retainedBytes <= budget, `Token Lens keeps ${api.runtimeStats()!.retainedBytes} bytes`);
  }
  const after = retained();
  const growth = after.total - before.total;
  note(`1000 hovers in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${shown} shown, ${api.runtimeStats()!.forwards - forwardsBefore} forward passes; ` +
    `heap ${((after.heap - before.heap) / MB).toFixed(1)} MB, external ${((after.external - before.external) / MB).toFixed(1)} MB, ` +
    `Token Lens counts ${(api.runtimeStats()!.retainedBytes / MB).toFixed(1)} MB kept (budget ${(budget / MB).toFixed(0)} MB)`);
  assert(shown > 900, `only ${shown} of 1000 hovers showed predictions`);
  assert(growth <= budget, `the extension host grew by ${(growth / MB).toFixed(0)} MB, more than the ${(budget / MB).toFixed(0)} MB budget`);
}, 600_000);

test('typing in a heatmapped document does not queue analyses of stale text', async () => {
  // One analysis window holds the whole document: one forward pass per heatmap update.
  const doc = await open('typing.txt', documentText(4242, 100));
  const editor = await vscode.window.showTextDocument(doc);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  try {
    await eventually(() => api.heatmapDecorationCount() > 0, 'heatmap decorations', 120_000);
    // Keep the model busy (hovers over 40 documents nobody analysed yet, one forward pass each), so that
    // the heatmap update after a keystroke waits in the queue until the next keystroke supersedes it.
    // onnxruntime-node runs on the extension host's thread: edits land only between forward passes.
    const busy = await Promise.all(Array.from({ length: 40 }, (_, i) => open(`busy-${i}.txt`, documentText(500 + i, 100))));
    const forwards = api.runtimeStats()!.forwards;
    let hoversDone = 0;
    const hovers = busy.map((d) => api.hoverText(d.uri.toString(), 0, 2).finally(() => hoversDone++));
    const keys = 2;
    const t0 = Date.now();
    const waitingAt: number[] = [];
    for (let i = 0; i < keys; i++) {
      await editor.edit((b) => b.insert(doc.positionAt(doc.getText().length), 'ab'[i % 2]));
      waitingAt.push(busy.length - hoversDone);
      note(`key ${i} at ${Date.now() - t0} ms: ${hoversDone} hovers done, ${api.runtimeStats()!.forwards - forwards} forwards`);
      // Longer than the heatmap's debounce: each keystroke makes an update that asks for an analysis.
      await new Promise((r) => setTimeout(r, 300));
    }
    await Promise.all(hovers);
    await eventually(() => api.runtimeStats()!.forwards >= forwards + busy.length + 1, 'the heatmap to follow the last keystroke', 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const ran = api.runtimeStats()!.forwards - forwards - busy.length;
    // The update after key i was still waiting behind the hovers when key i+1 landed (hovers left then):
    // it was superseded before its turn and must not run. The others may.
    const superseded = waitingAt.slice(1).filter((w) => w > 0).length;
    note(`typing ${keys} keys while the model was busy: ${ran} forward passes ran for the typed document; ` +
      `hovers waiting when each key landed: ${waitingAt.join(', ')}`);
    assert(superseded > 0, 'the model finished the hovers before the second key landed: nothing was queued to cancel');
    assert(ran <= keys - superseded, `${ran} forward passes ran for ${keys} keystrokes, ${superseded} of them superseded while waiting`);
  } finally {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await vscode.commands.executeCommand('workbench.action.files.revert');
  }
}, 240_000);

/** Serves a model folder as the Hub does; the ONNX file waits until `release()`. */
async function gatedHub(dir: string, id: string): Promise<{ server: Server; url: string; onnxAsked: () => boolean; release: () => void }> {
  let asked = false;
  let open = false;
  const waiting: (() => void)[] = [];
  const prefix = `/${id}/resolve/main/`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    const file = path.startsWith(prefix) ? join(dir, path.slice(prefix.length)) : '';
    if (!file || file.includes('..') || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const send = () => {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    };
    if (file.endsWith('.onnx') && !open) {
      asked = true;
      waiting.push(send);
    } else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, onnxAsked: () => asked,
    release: () => { open = true; waiting.splice(0).forEach((f) => f()); },
  };
}

test('a superseded model load leaves the status to the newer one', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const saved = Object.fromEntries(['model', 'offline', 'hubEndpoint'].map((k) => [k, cfg.inspect(k)?.globalValue]));
  const hub = await gatedHub(models.stories260K, 'race-test/stories260K');
  try {
    await cfg.update('hubEndpoint', hub.url, vscode.ConfigurationTarget.Global);
    await cfg.update('offline', false, vscode.ConfigurationTarget.Global);
    await cfg.update('model', 'race-test/stories260K', vscode.ConfigurationTarget.Global);
    const editor = await vscode.window.showTextDocument(await open('race.txt', documentText(7, 30)));
    const end = editor.document.positionAt(editor.document.getText().length);
    editor.selection = new vscode.Selection(end, end);
    // The first load waits for its ONNX file; meanwhile the user picks the GPT-2 model.
    void vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => hub.onnxAsked(), 'the first load downloading', 30_000);
    await cfg.update('model', models.gpt2, vscode.ConfigurationTarget.Global);
    void vscode.commands.executeCommand('tokenLens.explainNextToken');
    await eventually(() => api.modelState() === 'loading', 'the second load', 30_000, 10);
    // The first download now completes, while the second load is still running.
    hub.release();
    const seen: string[] = [];
    await eventually(() => {
      const state = api.modelState();
      if (seen.at(-1) !== state) seen.push(state);
      return state !== 'loading' && state;
    }, 'the second load to finish', 120_000, 10);
    note(`states after the second load began: ${seen.join(' -> ')}`);
    assert(seen.join(',') === 'loading,ready', `the status went ${seen.join(' -> ')}`);
    assert(api.runtimeStats() !== undefined, 'no model loaded');
  } finally {
    hub.release();
    hub.server.close();
    for (const [k, v] of Object.entries(saved)) await cfg.update(k, v, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }
}, 240_000);

test('restore the user settings', async () => {
  await vscode.workspace.getConfiguration('tokenLens').update('model', userModel, vscode.ConfigurationTarget.Global);
});

export async function run(): Promise<void> {
  // TOKEN_LENS_TEST_FILTER=regex runs only the matching tests (the first two set the model up).
  const only = process.env.TOKEN_LENS_TEST_FILTER;
  const summary = await runTests(note, only ? new RegExp(`activate|restore|${only}`) : undefined);
  if (summary.failed > 0) throw new Error(`${summary.failed} memory tests failed`);
}
