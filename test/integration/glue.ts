// Extension-host suite for the glue's edge cases (runs on its own, or after index.ts when imported by it): what is analysed, the messages users get, per-language
// hover settings, the heatmap's styles, legend and failures, a model that fails to load, a model on a server. Real stories260K model (the
// built-in one: tokenLens.model is unset); the workspace holds prompt.txt (exactly PROMPT) and story.txt.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TokenLensApi } from '../../src/extension/extension';
import { assert, eventually, runTests, test } from './runner';

const EXTENSION_ID = 'token-lens.token-lens';
const PROMPT = 'Once upon a time, there was a little girl named';
let api: TokenLensApi;

async function showFile(name: string, selStart?: number, selEnd?: number): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert(folder, 'no workspace folder');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, name));
  return select(await vscode.window.showTextDocument(doc, vscode.ViewColumn.One), selStart, selEnd);
}

async function showText(content: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ content, language: 'plaintext' });
  return select(await vscode.window.showTextDocument(doc, vscode.ViewColumn.One));
}

function select(editor: vscode.TextEditor, start?: number, end?: number): vscode.TextEditor {
  const len = editor.document.getText().length;
  editor.selection = new vscode.Selection(editor.document.positionAt(start ?? len), editor.document.positionAt(end ?? start ?? len));
  return editor;
}

async function explainAndWaitFor(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  await vscode.commands.executeCommand('tokenLens.explainNextToken');
  await eventually(() => done(), what, timeoutMs);
}

test('activate', async () => {
  api = await vscode.extensions.getExtension<TokenLensApi>(EXTENSION_ID)!.activate();
  assert(typeof api.lastMessage === 'function', 'no lastMessage() in the test API');
});

test('nothing before the cursor: a clear error, and the panel is left as it was', async () => {
  const before = api.panelState()?.text;
  await showFile('prompt.txt', 0);
  await explainAndWaitFor('an error message', () => /Nothing before the cursor/.test(api.lastMessage()?.message ?? ''));
  assert(api.lastMessage()!.severity === 'error', JSON.stringify(api.lastMessage()));
  assert(api.panelState()?.text === before, 'the panel changed');
});

test('a selection is explained on its own', async () => {
  const start = PROMPT.indexOf('little');
  await showFile('prompt.txt', start, start + 'little girl'.length);
  await explainAndWaitFor('the selection analysed', () => api.panelState()?.text === 'little girl' && api.panelState()!.tokens > 0);
  assert(api.panelState()!.visible, 'panel not visible');
  assert(vscode.window.activeTextEditor?.document.fileName.endsWith('prompt.txt'), 'the editor lost focus');
}, 90_000);

test('Explain from Here explains the text before the offset', async () => {
  const folder = vscode.workspace.workspaceFolders![0];
  const uri = vscode.Uri.joinPath(folder.uri, 'story.txt').toString();
  await vscode.commands.executeCommand('tokenLens.explainFromHere', { uri, offset: PROMPT.length });
  const a = await eventually(() => (api.lastAnalysis()?.text === PROMPT ? api.lastAnalysis() : undefined), 'analysis of the prompt');
  assert(a.topK(a.tokens.length - 1, 1)[0].text === ' Lily', 'top candidate is not " Lily"');
});

test('tokenLens.hover.enabled can be turned off for one language', async () => {
  const editor = await showFile('story.txt', 0);
  const uri = editor.document.uri.toString();
  const at = editor.document.positionAt(PROMPT.length + 2);
  assert(await eventually(() => api.hoverText(uri, at.line, at.character), 'a hover'), 'no hover');
  const cfg = vscode.workspace.getConfiguration('tokenLens', { languageId: 'plaintext' });
  await cfg.update('hover.enabled', false, vscode.ConfigurationTarget.Global, true);
  try {
    assert(await api.hoverText(uri, at.line, at.character) === undefined, 'hover still shown for plaintext');
  } finally {
    await cfg.update('hover.enabled', undefined, vscode.ConfigurationTarget.Global, true);
  }
  assert(await api.hoverText(uri, at.line, at.character), 'hover did not come back');
});

test('a binary document is refused', async () => {
  await showText('PK\u0003\u0004\u0000\u0000binary');
  await explainAndWaitFor('a binary error', () => /binary/.test(api.lastMessage()?.message ?? ''));
});

test('text over the context window: the last part is analysed and the user is told which', async () => {
  await showText(`${PROMPT} Lily. She liked to play outside with her dog.\n`.repeat(40));
  await explainAndWaitFor('a truncated analysis', () => api.panelState()?.truncated === true, 90_000);
  const m = api.lastMessage();
  assert(m?.severity === 'info' && /more than the model's context window: analysed the last part/.test(m.message), JSON.stringify(m));
}, 120_000);

test('the surprisal heatmap decorates tokens and clears', async () => {
  await showFile('story.txt', 0);
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  await cfg.update('heatmap.style', 'surprisal', vscode.ConfigurationTarget.Global);
  try {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapDecorationCount() >= 10, 'surprisal decorations');
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapDecorationCount() === 0, 'decorations cleared');
  } finally {
    await cfg.update('heatmap.style', undefined, vscode.ConfigurationTarget.Global);
  }
});

test('Compare with… the 4-bit variant: the panel gets the comparison, and the difference heatmap colours exactly the tokens that moved', async () => {
  const builtin = join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'models', 'stories260K');
  await showFile('story.txt');
  const story = vscode.window.activeTextEditor!.document.getText();
  await explainAndWaitFor('the story analysed', () => api.panelState()?.text === story && api.panelState()!.tokens > 0);
  await vscode.commands.executeCommand('tokenLens.compareWith', { ref: builtin, dtype: 'q4', label: 'stories260K · q4', quantize: 'q4' });
  type Compared = { models: string[]; sameTokenizer: boolean; meanKl: number; tokens: { start: number; end: number; lossA: number | null; lossB: number | null }[] };
  const c = await eventually(() => api.panelPosted('comparison') as Compared | undefined, 'a comparison posted to the panel', 90_000);
  assert(c.models[1] === 'stories260K · q4' && c.sameTokenizer, JSON.stringify(c.models));
  assert(c.meanKl > 0 && c.meanKl < 0.5, `mean KL ${c.meanKl}`);
  const moved = c.tokens.filter((t) => t.lossA !== null && Math.abs(t.lossB! - t.lossA) >= 0.2).length;
  assert(moved >= 1, 'no token moved by 0.2 nats: nothing for the heatmap to show');
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  await cfg.update('heatmap.style', 'difference', vscode.ConfigurationTarget.Global);
  await showFile('story.txt', 0);
  try {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    const legend = await eventually(() => api.heatmapLegend(), 'the difference legend', 60_000);
    assert(legend.text.includes('difference: B better by ≥ 1 nat · B better · B worse · B worse by ≥ 1 nat'), legend.text);
    await eventually(() => api.heatmapDecorationCount() === moved, `${moved} decorated tokens (now ${api.heatmapDecorationCount()})`, 60_000);
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapDecorationCount() === 0, 'decorations cleared');
  } finally {
    await cfg.update('heatmap.style', undefined, vscode.ConfigurationTarget.Global);
  }
}, 180_000);

test('the rank legend names the buckets scaled to stories260K\'s 512 tokens, with a colour swatch each', async () => {
  await showFile('story.txt', 0);
  await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  try {
    const legend = await eventually(() => api.heatmapLegend(), 'the heatmap legend');
    assert(/^\$\(symbol-color\) rank: top-4 · top-14 · top-54 · rest {2}\(mean loss \d+\.\d\d\)$/.test(legend.text), legend.text);
    for (const id of ['rankTop10', 'rankTop100', 'rankTop1000', 'rankRest']) {
      const span = `<span style="background-color:var(--vscode-tokenLens-heatmap-${id}Background);border-radius:3px;">`;
      assert(legend.tooltip.includes(span), `no ${id} swatch in\n${legend.tooltip}`);
    }
    assert(legend.tooltip.includes('**rest** ranks 55–512'), legend.tooltip);
  } finally {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
  }
  assert(api.heatmapLegend() === undefined, 'the legend stayed after the heatmap was turned off');
});

/**
 * Overwrites 256 bytes inside the first long run of float32 weights (every 4th byte a plausible exponent) with
 * NaN bit patterns: the protobuf structure stays valid, the model loads, and every forward pass gives NaN.
 */
function poisonWeights(file: string): void {
  const b = readFileSync(file);
  const plausible = (x: number) => (x >= 0x30 && x <= 0x42) || (x >= 0xb0 && x <= 0xc2);
  const W = 4096;
  for (let at = 0; at + W <= b.length; at += 4) {
    let ok = true;
    for (let i = 3; i < W && ok; i += 4) ok = plausible(b[at + i]);
    if (!ok) continue;
    b.fill(0xff, at + 1024, at + 1280);
    writeFileSync(file, b);
    return;
  }
  throw new Error(`no run of float32 weights found in ${file}`);
}

test('a heatmap that keeps failing shows the cause once, however often edits rerun it', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const good = cfg.inspect<string>('model')?.globalValue;
  const source = good || join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'models', 'stories260K');
  // A real fault: a run of weights overwritten with NaN bit patterns, so every analysis fails inside the model.
  const broken = join(mkdtempSync(join(tmpdir(), 'token-lens-broken-')), 'stories260K-nan-weights');
  cpSync(source, broken, { recursive: true });
  poisonWeights(join(broken, 'onnx', 'model.onnx'));
  await cfg.update('model', broken, vscode.ConfigurationTarget.Global);
  try {
    const editor = await showText(`${PROMPT} Lily. She liked to play outside with her dog.\n`.repeat(60));
    const shown = api.messagesShown();
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await eventually(() => api.heatmapFailures() >= 1, 'the first heatmap failure', 60_000);
    assert(api.messagesShown() === shown + 1 && /NaN/.test(api.lastMessage()?.message ?? ''), JSON.stringify(api.lastMessage()));
    // Each edit reruns the heatmap (as scrolling does), and each run fails the same way.
    for (let i = 1; i <= 3; i++) {
      await editor.edit((e) => e.insert(new vscode.Position(i, 0), 'Then '));
      await eventually(() => api.heatmapFailures() > i, `failure ${i + 1}, after edit ${i} (${api.heatmapFailures()} so far)`, 30_000);
    }
    assert(api.messagesShown() === shown + 1, `${api.messagesShown() - shown} messages for ${api.heatmapFailures()} failures of one cause`);
  } finally {
    await vscode.commands.executeCommand('tokenLens.toggleLossHeatmap');
    await cfg.update('model', good, vscode.ConfigurationTarget.Global);
    rmSync(broken, { recursive: true, force: true });
  }
}, 120_000);

test('a model folder that does not exist: error state and message, then recovery', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const good = cfg.inspect<string>('model')?.globalValue;
  await cfg.update('model', '/nonexistent/model', vscode.ConfigurationTarget.Global);
  try {
    await showFile('prompt.txt');
    await explainAndWaitFor('a load error', () => api.modelState() === 'error');
    assert(/Model folder not found: \/nonexistent\/model/.test(api.lastMessage()?.message ?? ''), JSON.stringify(api.lastMessage()));
  } finally {
    await cfg.update('model', good, vscode.ConfigurationTarget.Global);
  }
  await explainAndWaitFor('the model back', () => api.modelState() === 'ready' && api.panelState()?.text === PROMPT);
}, 90_000);

/** Serves a model folder the way the Hub does: /{owner}/{name}/resolve/{revision}/{file}. */
async function serveHub(folder: string, id: string): Promise<{ server: Server; url: string; requested: string[] }> {
  const requested: string[] = [];
  const prefix = `/${id}/resolve/main/`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    requested.push(path);
    const file = path.startsWith(prefix) ? join(folder, path.slice(prefix.length)) : '';
    if (!file || file.includes('..') || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requested };
}

test('a Hub id is downloaded (from tokenLens.hubEndpoint) into the cache, and a missing one is reported', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const saved = Object.fromEntries(['model', 'offline', 'hubEndpoint'].map((k) => [k, cfg.inspect(k)?.globalValue]));
  const folder = join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'models', 'stories260K');
  const hub = await serveHub(folder, 'local-test/stories260K');
  try {
    await cfg.update('hubEndpoint', hub.url, vscode.ConfigurationTarget.Global);
    await cfg.update('offline', false, vscode.ConfigurationTarget.Global);
    await cfg.update('model', 'local-test/stories260K', vscode.ConfigurationTarget.Global);
    await showFile('prompt.txt');
    await explainAndWaitFor('the downloaded model analysing', () => api.modelState() === 'ready' && api.lastAnalysis()?.text === PROMPT, 90_000);
    for (const f of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) {
      assert(hub.requested.includes(`/local-test/stories260K/resolve/main/${f}`), `${f} was not downloaded: ${hub.requested.join(', ')}`);
    }
    const a = api.lastAnalysis()!;
    assert(a.topK(a.tokens.length - 1, 1)[0].text === ' Lily', 'the downloaded model predicts differently');

    await cfg.update('model', 'local-test/missing', vscode.ConfigurationTarget.Global);
    await explainAndWaitFor('a download error', () => api.modelState() === 'error', 60_000);
    assert(/Could not download "local-test\/missing"/.test(api.lastMessage()?.message ?? ''), JSON.stringify(api.lastMessage()));
  } finally {
    hub.server.close();
    for (const [k, v] of Object.entries(saved)) await cfg.update(k, v, vscode.ConfigurationTarget.Global);
  }
}, 150_000);

test('Import a Checkpoint: a Pythia-style checkpoint becomes the model, is listed, and a hostile one is refused', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const saved = cfg.inspect<string>('model')?.globalValue;
  // The suite runs from out/integration/ in the repository (the installed extension has no test files).
  const fixtures = join(__dirname, '..', '..', 'test', 'fixtures', 'import');
  try {
    const ref = await vscode.commands.executeCommand<string>('tokenLens.importCheckpoint', { from: join(fixtures, 'gpt_neox') });
    assert(typeof ref === 'string' && existsSync(join(ref, 'onnx', 'model.onnx')), `no model folder: ${ref} (${JSON.stringify(api.lastMessage())})`);
    const model = () => vscode.workspace.getConfiguration('tokenLens').get<string>('model');
    assert(model() === ref, `tokenLens.model is ${model()}`);
    await showText('Once upon a time, the cat sat on the mat.');
    await explainAndWaitFor('the imported model analysing', () => api.modelState() === 'ready' && api.lastAnalysis()?.text === 'Once upon a time, the cat sat on the mat.', 90_000);
    const a = api.lastAnalysis()!;
    assert(a.attention?.layers === 2 && a.attention.heads === 2, `attention ${a.attention?.layers} x ${a.attention?.heads}`);
    assert(a.vocabSize === 288, `vocabulary ${a.vocabSize}: the padded head keeps its width`);

    // GPT-2's BPE files travel inside the extension: a nanoGPT checkpoint with --tokenizer gpt2 imports there too.
    const gpt2 = await vscode.commands.executeCommand<string>('tokenLens.importCheckpoint', { from: join(fixtures, 'nanogpt-gpt2', 'ckpt.pt'), tokenizer: 'gpt2' });
    assert(typeof gpt2 === 'string' && existsSync(join(gpt2, 'tokenizer.json')), `no GPT-2-tokenizer model: ${gpt2} (${JSON.stringify(api.lastMessage())})`);

    const shown = api.messagesShown();
    const bad = await vscode.commands.executeCommand('tokenLens.importCheckpoint', { from: join(fixtures, 'bad', 'runs-code.pt') });
    assert(bad === undefined && api.messagesShown() === shown + 1, 'no message for a refused checkpoint');
    assert(/Could not import .*runs-code\.pt: .*never runs code from a pickle/.test(api.lastMessage()?.message ?? ''), JSON.stringify(api.lastMessage()));
    assert(model() === gpt2, 'a failed import changed the model');
  } finally {
    await cfg.update('model', saved, vscode.ConfigurationTarget.Global);
  }
}, 150_000);

/** `token-lens serve` of the built-in model on a free port of 127.0.0.1; resolves with its address. */
function serveBuiltin(): Promise<{ url: string; stop: () => void }> {
  // The suite runs from out/integration/ in the repository, whose dist/cli.js the build wrote.
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const model = join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'models', 'stories260K');
  const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  const stop = () => { child.kill(); };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) resolve({ url: m[1], stop });
    });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`token-lens serve exited with ${code}: ${err}`)));
  });
}

test('a model on a server (tokenLens.remote.url, both APIs): the panel\'s numbers are the local engine\'s, and attention says the server has none', async () => {
  const cfg = vscode.workspace.getConfiguration('tokenLens');
  const keys = ['model', 'remote.url', 'remote.api'];
  const saved = Object.fromEntries(keys.map((k) => [k, cfg.inspect(k)?.globalValue]));
  await cfg.update('model', undefined, vscode.ConfigurationTarget.Global);
  await showFile('prompt.txt');
  await explainAndWaitFor('the built-in model analysing', () => api.modelState() === 'ready' && api.lastAnalysis()?.text === PROMPT && (api.panelPosted('analysis') as { text?: string } | undefined)?.text === PROMPT, 90_000);
  const local = api.lastAnalysis()!;
  const localPanel = api.panelPosted('analysis') as { candidates: { id: number; text: string; prob: number }[] };
  const server = await serveBuiltin();
  try {
    await cfg.update('remote.url', server.url, vscode.ConfigurationTarget.Global);
    for (const apiName of ['auto', 'openai']) {
      const before = api.lastAnalysis();
      await cfg.update('remote.api', apiName, vscode.ConfigurationTarget.Global);
      // Select Model… stores the server's address as the model: the remote engine runs it.
      await cfg.update('model', server.url, vscode.ConfigurationTarget.Global);
      await showFile('prompt.txt');
      await explainAndWaitFor(`the server analysing (${apiName})`, () => api.modelState() === 'ready' && api.lastAnalysis() !== before && api.lastAnalysis()?.text === PROMPT, 90_000);
      const remote = api.lastAnalysis()!;
      const T = local.tokens.length;
      assert(remote.tokens.length === T, `${remote.tokens.length} tokens on the server, ${T} here`);
      for (let i = 0; i < T; i++) {
        const [x, y] = [local.tokens[i], remote.tokens[i]];
        assert(x.id === y.id && x.start === y.start && x.end === y.end, `token ${i}: ${JSON.stringify([y.id, y.start, y.end])} vs ${JSON.stringify([x.id, x.start, x.end])}`);
        assert((x.loss === null) === (y.loss === null) && Math.abs((y.loss ?? 0) - (x.loss ?? 0)) < 1e-4, `token ${i} loss ${y.loss} vs ${x.loss}`);
      }
      const top = remote.topK(T - 1, 1)[0];
      assert(top.text === ' Lily' && Math.abs(top.prob - local.topK(T - 1, 1)[0].prob) < 1e-4, `top-1 ${JSON.stringify(top)}`);
      // What the panel shows: the same candidates with the same probabilities, and no attention, with why.
      const panel = await eventually(() => {
        const p = api.panelPosted('analysis') as typeof localPanel & { text: string; model: { id: string }; attention: { available: boolean; note?: string }; engineNote?: string } | undefined;
        return p && p.text === PROMPT && p.model.id.includes(server.url) && p;
      }, 'the panel showing the server\'s analysis', 30_000);
      for (let j = 0; j < 10; j++) {
        const [x, y] = [localPanel.candidates[j], panel.candidates[j]];
        assert(x.id === y.id && x.text === y.text && Math.abs(x.prob - y.prob) < 1e-4, `candidate ${j}: ${JSON.stringify(y)} vs ${JSON.stringify(x)}`);
      }
      assert(!panel.attention.available && panel.attention.note === 'a completions server does not expose attention', JSON.stringify(panel.attention));
      assert(/top 20 candidates per position/.test(panel.engineNote ?? ''), `engine note: ${panel.engineNote}`);
      // `auto` finds SGLang's native API on token-lens serve; `openai` scores through /v1/completions.
      assert(/SGLang \/generate/.test(panel.model.id) === (apiName === 'auto'), `model ${panel.model.id} with api ${apiName}`);
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) await cfg.update(k, v, vscode.ConfigurationTarget.Global);
    server.stop();
  }
}, 240_000);

export async function run(): Promise<void> {
  const summary = await runTests((line) => console.log(`[glue] ${line}`));
  if (summary.failed > 0) throw new Error(`${summary.failed} glue tests failed`);
}
