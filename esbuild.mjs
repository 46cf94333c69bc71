// Bundles the extension host, the CLI, the trainer and import workers and the webviews, then imports the
// built-in model (vendor/stories260K) into dist/models/ with the CLI just built.
// Usage: node esbuild.mjs [--watch] [--minify]
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { importBuiltinModel } from './scripts/builtinModel.mjs';

const watch = process.argv.includes('--watch');
const minify = process.argv.includes('--minify');

// transformers.js imports sharp for images; text models never need it.
const sharpStub = {
  name: 'sharp-stub',
  setup(build) {
    build.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'sharp-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'sharp-stub' }, () => ({
      contents: 'module.exports = function sharp() { throw new Error("Images are not supported by Token Lens."); };',
      loader: 'js',
    }));
  },
};

// The extension host loads the runtime (transformers.js, onnxruntime) from its own bundle at first use,
// so that activation only parses the small glue bundle.
const lazyRuntime = {
  name: 'lazy-runtime',
  setup(build) {
    build.onResolve({ filter: /core\/(runtime\/session|engines\/runtime)$/ }, (args) =>
      args.importer.includes('/src/extension/') ? { path: './runtime.js', external: true } : undefined);
    build.onResolve({ filter: /core\/lenses\/index$/ }, (args) =>
      args.importer.includes('/src/extension/') ? { path: './lenses.js', external: true } : undefined);
  },
};

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  minify,
  external: ['vscode', 'onnxruntime-node', 'node-llama-cpp'],
  plugins: [sharpStub],
  logLevel: 'warning',
  // transformers.js reads import.meta.url to find its own folder; give it the bundle's URL.
  define: { 'import.meta.url': 'import_meta_url' },
  banner: { js: 'const import_meta_url = require("url").pathToFileURL(__filename).href;' },
};

const entries = [
  { ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', plugins: [sharpStub, lazyRuntime] },
  { ...node, entryPoints: ['src/core/engines/runtime.ts'], outfile: 'dist/runtime.js' },
  { ...node, entryPoints: ['src/core/lenses/index.ts'], outfile: 'dist/lenses.js' },
  { ...node, entryPoints: ['src/core/lenses/lensWorker.ts'], outfile: 'dist/lensWorker.js' },
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node\n' + node.banner.js } },
  { ...node, entryPoints: ['src/core/trainer/worker.ts'], outfile: 'dist/trainerWorker.js' },
  { ...node, entryPoints: ['src/core/importers/importWorker.ts'], outfile: 'dist/importWorker.js' },
  { ...node, entryPoints: ['src/core/runtime/forwardWorker.ts'], outfile: 'dist/forwardWorker.js' },
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, minify,
    entryPoints: ['webview/explain/main.ts'], outfile: 'dist/webview/explain.js', logLevel: 'warning' },
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, minify,
    entryPoints: ['webview/finetune/main.ts'], outfile: 'dist/webview/finetune.js', logLevel: 'warning' },
].filter((e) => existsSync(e.entryPoints[0]));

mkdirSync('dist', { recursive: true });
if (watch) {
  await Promise.all(entries.map((e) => esbuild.build(e)));
  importBuiltinModel();
  for (const e of entries) await (await esbuild.context(e)).watch();
} else {
  await Promise.all(entries.map((e) => esbuild.build(e)));
  const t0 = Date.now();
  console.log(`built-in model (dist/models/stories260K): ${importBuiltinModel()} in ${Date.now() - t0} ms`);
  writeFileSync('dist/.built', new Date().toISOString());
}
