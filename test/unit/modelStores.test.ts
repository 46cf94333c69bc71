// Ollama's and LM Studio's model folders as Select Model… lists them: Ollama names from the manifests'
// paths, blobs found through the model layer's digest, LM Studio's GGUF files without vision projectors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { listLmStudioModels, listOllamaModels, ModelStoreError, resolveOllamaModel } from '../../src/core/engines/llama/modelStores';

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

test('Ollama: names as Ollama shows them; a manifest whose blob is gone is left out', () => {
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
  assert.throws(() => resolveOllamaModel('gone', store), (e: Error) => e instanceof ModelStoreError && /no model "gone:latest"/.test(e.message));
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
