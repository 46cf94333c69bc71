// The folders are the architecture: core (no VS Code) <- protocol (messages, browser-safe) <- extension and
// webview. An import that runs up the layers (protocol pulling in a webview or host file) fails here.
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';

const root = join(__dirname, '..', '..');

/** Every source file a bundle of `entry` reads, relative to the repository. */
async function inputsOf(entry: string, platform: 'node' | 'browser'): Promise<string[]> {
  const r = await esbuild.build({ entryPoints: [join(root, entry)], bundle: true, write: false, metafile: true, platform,
    format: 'esm', external: ['vscode', 'onnxruntime-node', 'sharp', '@huggingface/transformers', 'node:*'], logLevel: 'error',
    loader: { '.css': 'empty' } });
  return Object.keys(r.metafile.inputs).map((f) => relative(root, join(root, f)));
}

test('the protocol reads only protocol and core files', async () => {
  const inputs = await inputsOf('src/protocol/index.ts', 'browser');
  const outside = inputs.filter((f) => !f.startsWith('src/protocol/') && !f.startsWith('src/core/'));
  assert.deepEqual(outside, []);
});

test('the webviews read no host file', async () => {
  for (const entry of ['webview/explain/main.ts', 'webview/finetune/main.ts']) {
    const inputs = await inputsOf(entry, 'browser');
    assert.deepEqual(inputs.filter((f) => f.startsWith('src/extension/') || f.startsWith('node_modules/onnxruntime')), [], entry);
  }
});
