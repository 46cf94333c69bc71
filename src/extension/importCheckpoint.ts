// "Import a checkpoint…" in Select Model: pick a Hugging Face folder, a nanoGPT ckpt.pt or a llama2.c
// .bin (and its tokenizer when the checkpoint has none), import it in a worker thread with a cancellable
// progress notification, and remember the result so that Select Model lists it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkerFactory } from '../core/importers/importJob';
import { Cancelled, UserError, type Log } from './log';

/** globalState key: imported models, newest first. */
export const IMPORTED_MODELS_KEY = 'tokenLens.importedModels';

export interface ImportedEntry {
  ref: string;
  label: string;
  /** The checkpoint it came from. */
  source: string;
}

export function importedModels(state: vscode.Memento): ImportedEntry[] {
  return state.get<ImportedEntry[]>(IMPORTED_MODELS_KEY, []).filter((m) => fs.existsSync(path.join(m.ref, 'config.json')));
}

export async function rememberImportedModel(state: vscode.Memento, entry: ImportedEntry): Promise<void> {
  const list = state.get<ImportedEntry[]>(IMPORTED_MODELS_KEY, []);
  await state.update(IMPORTED_MODELS_KEY, [entry, ...list.filter((m) => m.ref !== entry.ref)].slice(0, 12));
}

type Kind = 'huggingface' | 'nanogpt' | 'llama2c';

/** What to import: asked in the UI, or given (tests, other commands). */
export interface ImportRequest {
  from: string;
  tokenizer?: string;
}

async function ask(): Promise<ImportRequest | undefined> {
  const kinds: (vscode.QuickPickItem & { checkpoint: Kind })[] = [
    { label: '$(folder) Hugging Face model folder', detail: 'config.json, model.safetensors or pytorch_model.bin (or shards) and tokenizer.json: GPT-2, Llama, Qwen2, Mistral, GPT-NeoX / Pythia', checkpoint: 'huggingface' },
    { label: '$(file-binary) nanoGPT ckpt.pt', detail: 'with the meta.pkl beside it, or the GPT-2 tokenizer', checkpoint: 'nanogpt' },
    { label: '$(file-binary) llama2.c checkpoint (.bin)', detail: 'and its tokenizer.bin', checkpoint: 'llama2c' },
  ];
  const kind = (await vscode.window.showQuickPick(kinds, { title: 'Token Lens: Import a checkpoint', placeHolder: 'What kind of checkpoint?' }))?.checkpoint;
  if (!kind) return undefined;
  const folder = kind === 'huggingface';
  const picked = await vscode.window.showOpenDialog({
    title: folder ? 'A Hugging Face model folder' : kind === 'nanogpt' ? "nanoGPT's ckpt.pt" : 'A llama2.c checkpoint',
    canSelectFolders: folder, canSelectFiles: !folder, openLabel: 'Import',
    filters: folder ? undefined : kind === 'nanogpt' ? { 'PyTorch checkpoint': ['pt', 'pth', 'ckpt'] } : { 'llama2.c checkpoint': ['bin'] },
  });
  const from = picked?.[0]?.fsPath;
  if (!from) return undefined;
  if (kind === 'huggingface') return { from };
  if (kind === 'nanogpt') {
    if (fs.existsSync(path.join(path.dirname(from), 'meta.pkl'))) return { from };
    const choice = await vscode.window.showQuickPick([
      { label: 'GPT-2 tokenizer', detail: 'for models trained on GPT-2 tokens (OpenWebText, Shakespeare with tiktoken)', value: 'gpt2' },
      { label: 'meta.pkl…', detail: "the character vocabulary nanoGPT's prepare.py wrote", value: 'meta' },
    ], { title: 'Which tokenizer did this model train with?' });
    if (!choice) return undefined;
    if (choice.value === 'gpt2') return { from, tokenizer: 'gpt2' };
    const meta = await vscode.window.showOpenDialog({ title: 'meta.pkl', canSelectFiles: true, filters: { 'meta.pkl': ['pkl'] }, openLabel: 'Use' });
    return meta?.[0] ? { from, tokenizer: meta[0].fsPath } : undefined;
  }
  const tok = await vscode.window.showOpenDialog({ title: "The checkpoint's tokenizer.bin", canSelectFiles: true, filters: { 'llama2.c tokenizer': ['bin'] }, openLabel: 'Use' });
  return tok?.[0] ? { from, tokenizer: tok[0].fsPath } : undefined;
}

/** A free folder name under `root` for a checkpoint. */
function outFolder(root: string, from: string): string {
  const stem = (path.basename(from) === 'ckpt.pt' ? path.basename(path.dirname(from)) : path.basename(from).replace(/\.(bin|pt|pth|ckpt)$/, '')) || 'model';
  const safe = stem.replace(/[^\w.-]+/g, '-');
  let out = path.join(root, safe);
  for (let n = 2; fs.existsSync(out); n++) out = path.join(root, `${safe}-${n}`);
  return out;
}

/**
 * Imports a checkpoint into the extension's storage and returns the model folder, or undefined when the
 * user backed out. Cancelling the progress notification stops the import and leaves nothing behind.
 */
export async function importCheckpointFlow(
  context: vscode.ExtensionContext, log: Log,
  request?: ImportRequest, createWorker?: WorkerFactory,
): Promise<string | undefined> {
  const req = request ?? await ask();
  if (!req) return undefined;
  const root = vscode.Uri.joinPath(context.globalStorageUri, 'imported').fsPath;
  fs.mkdirSync(root, { recursive: true });
  const out = outFolder(root, req.from);
  log.info(`Importing ${req.from}${req.tokenizer ? ` (tokenizer ${req.tokenizer})` : ''} into ${out}`);
  const started = Date.now();
  const { runImportJob } = await import('../core/importers/importJob');
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Token Lens: importing ${path.basename(req.from)}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return runImportJob({ from: req.from, out, tokenizer: req.tokenizer }, {
          signal: abort.signal,
          onProgress: (message) => {
            progress.report({ message });
            log.info(`  ${message} (${Date.now() - started} ms)`);
          },
        }, createWorker);
      });
    const c = result.config;
    await rememberImportedModel(context.globalState, {
      ref: out, label: `${path.basename(out)} (${c.arch}, ${c.n_layer} layers)`, source: req.from,
    });
    log.info(`Imported ${req.from} in ${Date.now() - started} ms`);
    return out;
  } catch (e) {
    if ((e as Error).name === 'ImportCancelled') throw new Cancelled(`Importing ${path.basename(req.from)}`);
    throw new UserError(`Could not import ${req.from}: ${(e as Error).message}`, (e as Error).stack);
  }
}
