// Activation must not load onnxruntime or transformers.js: the extension bundle is one file, so the heavy
// modules must sit behind lazy initialisers. Builds the bundle like esbuild.mjs does and activates it with
// an inert stand-in for the `vscode` module (only the host API is stubbed; no model is involved).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';

/** Any property read, call or construction answers another inert value; settings read their defaults. */
function inert(): unknown {
  return new Proxy(function () {}, {
    get: (_t, k) => (k === 'then' ? undefined : k === Symbol.toPrimitive ? () => '' : inert()),
    set: () => true,
    defineProperty: () => true,
    apply: () => inert(),
    construct: () => inert() as object,
  });
}

function vscodeStandIn(): Record<string, unknown> {
  const api: Record<string, unknown> = {};
  for (const k of ['window', 'commands', 'languages', 'env', 'Uri', 'EventEmitter', 'ThemeColor', 'StatusBarAlignment',
    'ViewColumn', 'Range', 'Position', 'Hover', 'MarkdownString', 'ConfigurationTarget', 'ProgressLocation',
    'QuickPickItemKind', 'DecorationRangeBehavior', 'CancellationTokenSource', 'extensions', 'l10n']) api[k] = inert();
  api.workspace = new Proxy({ getConfiguration: () => ({ get: (_k: string, d: unknown) => d }), workspaceFolders: undefined },
    { get: (t, k) => (k in t ? (t as Record<string | symbol, unknown>)[k] : inert()) });
  return api;
}

test('loading and activating the extension bundle requires neither onnxruntime-node nor transformers.js', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'token-lens-activation-'));
  const outfile = join(dir, 'extension.js');
  try {
    await esbuild.build({
      entryPoints: [join(__dirname, '..', '..', 'src', 'extension', 'extension.ts')], outfile, bundle: true,
      platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'onnxruntime-node', 'sharp'],
      define: { 'import.meta.url': 'import_meta_url' }, logLevel: 'error',
      banner: { js: 'const import_meta_url = require("url").pathToFileURL(__filename).href;' },
    });
    const requested: string[] = [];
    const vscode = vscodeStandIn();
    const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
    const load = M._load;
    M._load = function (req: string, ...rest: unknown[]) {
      requested.push(req);
      return req === 'vscode' ? vscode : load.call(this, req, ...rest);
    };
    try {
      const ext = require(outfile) as { activate(ctx: unknown): { activationMs: number } };
      const context = { subscriptions: [], extensionUri: inert(), extensionPath: dir, globalStorageUri: inert(),
        globalState: { get: (_k: string, d: unknown) => d, update: async () => undefined } };
      const api = ext.activate(context);
      assert.equal(typeof api.activationMs, 'number');
    } finally {
      M._load = load;
    }
    assert.ok(requested.includes('vscode'));
    const heavy = requested.filter((r) => /onnxruntime|transformers|sharp/.test(r));
    assert.deepEqual(heavy, [], `loaded at activation: ${heavy.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
