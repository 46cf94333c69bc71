// Select Model…'s GGUF sections: Ollama's installed models (by their Ollama names) and LM Studio's
// downloads. Reading the stores is plain file-system work (no llama.cpp): listing costs a few stats.
import type * as vscode from 'vscode';
import { listLmStudioModels, ModelStoreError, ollamaModelsDir, readOllamaStore } from '../core/engines/llama/modelStores';

interface GgufItem extends vscode.QuickPickItem {
  ref?: string;
  problem?: string;
}

export function ggufModelItems(mark: (ref: string) => string, sep: (label: string) => GgufItem): GgufItem[] {
  const items: GgufItem[] = [];
  try {
    const { models, problems } = readOllamaStore();
    if (models.length || problems.length) {
      items.push(sep('Ollama (llama.cpp)'), ...models.map((m) => ({ label: mark(m.ref) + m.label, description: 'Ollama', ref: m.ref })),
        ...problems.map((p) => ({ label: `$(warning) ${p.name}`, description: 'Ollama: unusable', detail: p.message, problem: p.message })));
    }
  } catch (e) {
    // A store that is not there is the common case (no Ollama): only an unreadable one is worth a line.
    const missing = e instanceof ModelStoreError && /no manifests folder/.test(e.message);
    if (!missing) items.push(sep('Ollama (llama.cpp)'), { label: '$(warning) Ollama models unavailable', detail: (e as Error).message, problem: (e as Error).message });
  }
  const lmStudio = listLmStudioModels();
  if (lmStudio.length) {
    items.push(sep('LM Studio (llama.cpp)'), ...lmStudio.map((m) => ({ label: mark(m.ref) + m.label, description: 'LM Studio', ref: m.ref })));
  }
  return items;
}

export { ollamaModelsDir };
