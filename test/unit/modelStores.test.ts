// Ollama's and LM Studio's model folders as Select Model… lists them: Ollama names from the manifests'
// paths, blobs found through the model layer's digest, LM Studio's GGUF files without vision projectors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { listLmStudioModels, listOllamaModels, ModelStoreError, readOllamaStore, resolveOllamaModel } from '../../src/core/engines/llama/modelStores';
import { ggufModelItems } from '../../src/extension/ggufModels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-stores-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function ollamaModel(store: string, parts: string[], digest: string, blob = true): void {
  const manifest = path.join(store, 'manifests', ...parts);
  fs.mkdirSync(path.dirname(manifest), { recursive: true });
  fs.writeFileSync(manifest, JSON.stringify({ layers: [
    { mediaType: 'application/vnd.ollama.image.template', digest: 'sha256:00' },
    { mediaType: 'application/vnd.ollama.image.model', digest },
  ] }));
  fs.mkdirSync(path.join(store, 'blobs'), { recursive: true });
  if (blob) fs.writeFileSync(path.join(store, 'blobs', digest.replace(':', '-')), 'GGUF');
}

test('Ollama: names as Ollama shows them; a manifest whose blob is gone is left out and named', () => {
  const store = path.join(tmp, 'ollama');
  ollamaModel(store, ['registry.ollama.ai', 'library', 'llama3.2', '1b'], 'sha256:aa');
  ollamaModel(store, ['registry.ollama.ai', 'someone', 'tiny', 'latest'], 'sha256:bb');
  ollamaModel(store, ['hf.co', 'org', 'model-GGUF', 'Q4_K_M'], 'sha256:cc');
  ollamaModel(store, ['registry.ollama.ai', 'library', 'gone', 'latest'], 'sha256:dd', false);
  fs.writeFileSync(path.join(store, 'manifests', 'registry.ollama.ai', 'library', 'llama3.2', 'notes.txt~'), 'not json');
  const models = listOllamaModels(store);
  assert.deepEqual(models.map((m) => [m.label, m.ref]), [
    ['hf.co/org/model-GGUF:Q4_K_M', 'ollama:hf.co/org/model-GGUF:Q4_K_M'],
    ['llama3.2:1b', 'ollama:llama3.2:1b'],
    ['someone/tiny:latest', 'ollama:someone/tiny:latest'],
  ]);
  assert.equal(models[1].file, path.join(store, 'blobs', 'sha256-aa'));
  assert.equal(resolveOllamaModel('someone/tiny', store), path.join(store, 'blobs', 'sha256-bb'));
  assert.throws(() => resolveOllamaModel('gone', store), (e: Error) => e instanceof ModelStoreError &&
    e.message === `Ollama's model "gone:latest" is unusable: its weights ${path.join(store, 'blobs', 'sha256-dd')} are missing. Pull it again: ollama pull gone:latest`);
  assert.throws(() => resolveOllamaModel('never', store), (e: Error) => e instanceof ModelStoreError && /no model "never:latest"/.test(e.message));
  assert.throws(() => listOllamaModels(path.join(tmp, 'nowhere')), /No Ollama models at .*nowhere \(no manifests folder\)/);
});

test('LM Studio: GGUF files under publisher/model, vision projectors left out', () => {
  const dir = path.join(tmp, 'lmstudio');
  for (const f of ['lmstudio-community/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf', 'lmstudio-community/Qwen3-0.6B-GGUF/mmproj-F16.gguf', 'a/b/README.md']) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'GGUF');
  }
  assert.deepEqual(listLmStudioModels([dir, path.join(tmp, 'missing')]).map((m) => m.label), [path.join('lmstudio-community', 'Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q8_0.gguf')]);
});

/** Stores that are there but cannot be read, each made as it happens on a disk (tests run as root, so
 *  permissions would not stop a read). */
function brokenStores(): Record<string, { dir: string; message: RegExp }> {
  const base = path.join(tmp, 'broken');
  fs.rmSync(base, { recursive: true, force: true });
  const asFile = path.join(base, 'manifests-is-a-file');
  fs.mkdirSync(asFile, { recursive: true });
  fs.writeFileSync(path.join(asFile, 'manifests'), 'not a folder');
  const dangling = path.join(base, 'dangling-link');
  fs.mkdirSync(dangling, { recursive: true });
  fs.symlinkSync(path.join(base, 'unmounted-disk', 'manifests'), path.join(dangling, 'manifests'));
  return {
    'manifests is a file': { dir: asFile, message: /Cannot read Ollama's models: .*manifests-is-a-file.manifests is a file, not a folder of manifests\./ },
    'manifests is a dangling link': { dir: dangling, message: /Cannot read Ollama's models: .*dangling-link.manifests links to .*unmounted-disk.manifests, which does not exist\./ },
  };
}

test('Ollama: an unreadable store says why; a manifest that is not JSON or whose weights are gone is named, the rest listed', () => {
  for (const [what, { dir, message }] of Object.entries(brokenStores())) {
    assert.throws(() => readOllamaStore(dir), (e: Error) => e instanceof ModelStoreError && message.test(e.message), what);
  }
  const store = path.join(tmp, 'partly');
  ollamaModel(store, ['registry.ollama.ai', 'library', 'good', 'latest'], 'sha256:ee');
  ollamaModel(store, ['registry.ollama.ai', 'library', 'nojson', 'latest'], 'sha256:ff');
  fs.writeFileSync(path.join(store, 'manifests', 'registry.ollama.ai', 'library', 'nojson', 'latest'), '{"layers": [');
  ollamaModel(store, ['registry.ollama.ai', 'library', 'noblob', '7b'], 'sha256:gg', false);
  const { models, problems } = readOllamaStore(store);
  assert.deepEqual(models.map((m) => m.label), ['good:latest']);
  assert.deepEqual(problems.map((p) => p.name).sort(), ['noblob:7b', 'nojson:latest']);
  assert.match(problems.find((p) => p.name === 'nojson:latest')!.message, /^Ollama's model "nojson:latest" is unusable: its manifest .*nojson.latest is not valid JSON\. Pull it again: ollama pull nojson:latest$/);
  assert.throws(() => resolveOllamaModel('nojson', store), /manifest .* is not valid JSON/);
});

test('Select Model…: a missing or unreadable Ollama store leaves the other models listed, with a line that says why', () => {
  const lmStudio = path.join(tmp, 'lmstudio-for-picker');
  fs.mkdirSync(path.join(lmStudio, 'org', 'm'), { recursive: true });
  fs.writeFileSync(path.join(lmStudio, 'org', 'm', 'm.gguf'), 'GGUF');
  const items = (ollama: string) => {
    const saved = { ...process.env };
    Object.assign(process.env, { OLLAMA_MODELS: ollama, LMSTUDIO_MODELS: lmStudio });
    try {
      return ggufModelItems(() => '', (label) => ({ label, kind: -1 }));
    } finally {
      process.env = saved;
    }
  };
  // No Ollama at all: nothing to say about it.
  assert.deepEqual(items(path.join(tmp, 'no-ollama')).map((i) => i.label), ['LM Studio (llama.cpp)', path.join('org', 'm', 'm.gguf')]);
  for (const [what, { dir, message }] of Object.entries(brokenStores())) {
    const listed = items(dir);
    assert.deepEqual(listed.map((i) => i.label), ['Ollama (llama.cpp)', '$(warning) Ollama models unavailable', 'LM Studio (llama.cpp)', path.join('org', 'm', 'm.gguf')], what);
    assert.match(listed[1].problem!, message, what);
  }
  const listed = items(path.join(tmp, 'partly'));
  assert.deepEqual(listed.map((i) => [i.label, i.ref]), [
    ['Ollama (llama.cpp)', undefined], ['good:latest', 'ollama:good:latest'], ['$(warning) noblob:7b', undefined], ['$(warning) nojson:latest', undefined],
    ['LM Studio (llama.cpp)', undefined], [path.join('org', 'm', 'm.gguf'), path.join(lmStudio, 'org', 'm', 'm.gguf')],
  ]);
  assert.match(listed[2].problem!, /weights .*sha256-gg are missing\. Pull it again: ollama pull noblob:7b/);
});

test('CLI: --model ollama:NAME on an unreadable store or an unusable model says why', () => {
  const root = path.resolve(__dirname, '../..');
  const explain = (model: string, store: string) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'explain', '--model', model, 'Once'],
    { encoding: 'utf8', cwd: root, env: { ...process.env, OLLAMA_MODELS: store } });
  const broken = brokenStores();
  let r = explain('ollama:llama3.2', broken['manifests is a file'].dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, broken['manifests is a file'].message);
  r = explain('ollama:nojson', path.join(tmp, 'partly'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Ollama's model "nojson:latest" is unusable: its manifest .* is not valid JSON\. Pull it again: ollama pull nojson:latest/);
});
