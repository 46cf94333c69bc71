// "Token Lens: Clean Up Storage…": what Token Lens keeps in the extension's global storage (prepared model
// copies, downloaded models, trained runs and their checkpoints), largest first with sizes; the chosen items
// are deleted after a confirmation. Old prepared copies also go on their own, shortly after start-up.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isActive } from '../protocol/finetune';
import { PREPARED_LIMITS, evictPrepared, formatBytes, listStorage, removeStored, type StorageRoots, type StoredItem } from '../core/storage';
import type { FineTuneViewState } from './fineTuneView';
import { Log } from './log';
import { TRAINED_MODELS_KEY } from './models';

const KIND_LABEL: Record<StoredItem['kind'], string> = {
  prepared: '$(tools) Prepared copy',
  downloaded: '$(cloud-download) Downloaded model',
  trained: '$(beaker) Trained run',
  checkpoint: '$(history) Checkpoint only',
};

const KIND_DETAIL: Record<StoredItem['kind'], string> = {
  prepared: 'made again when the model is next loaded',
  downloaded: 'downloaded again when next used',
  trained: 'the trained model and its checkpoint',
  checkpoint: 'weights + Adam moments for resuming; the trained model stays',
};

export function storageRoots(context: vscode.ExtensionContext): StorageRoots {
  return {
    cacheDir: vscode.Uri.joinPath(context.globalStorageUri, 'models').fsPath,
    trainedDir: vscode.Uri.joinPath(context.globalStorageUri, 'trained').fsPath,
  };
}

/** The folders the current model reads: its own (a Hub id lives in the cache) and its prepared copy. */
export function modelFoldersInUse(context: vscode.ExtensionContext, ref: string, loadedFolder?: string): string[] {
  const folders = loadedFolder ? [loadedFolder] : [];
  if (ref) folders.push(path.isAbsolute(ref) ? ref : path.join(storageRoots(context).cacheDir, ref));
  return folders;
}

export interface InUse {
  /** Folders the loaded model reads (its folder and its prepared copy). */
  modelFolders: string[];
  fineTune: FineTuneViewState;
}

/** Items that may be deleted now: not the loaded model, not a run that is training. */
function deletable(items: StoredItem[], inUse: InUse): StoredItem[] {
  const busy = [...inUse.modelFolders];
  if (inUse.fineTune.out && isActive(inUse.fineTune.phase)) busy.push(inUse.fineTune.out, `${inUse.fineTune.out}-start`);
  const within = (p: string, folder: string) => {
    const rel = path.relative(path.resolve(folder), path.resolve(p));
    return !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  return items.filter((i) => !busy.some((b) => within(i.path, b) || within(b, i.path)));
}

export async function cleanUpStorage(context: vscode.ExtensionContext, log: Log, inUse: InUse): Promise<void> {
  const roots = storageRoots(context);
  const all = listStorage(roots);
  const items = deletable(all, inUse);
  if (!items.length) {
    log.notify(all.length ? 'Everything stored is in use now: nothing to clean up.' : 'Nothing stored yet: nothing to clean up.');
    return;
  }
  // A run's own size already includes its checkpoint.
  const total = items.filter((i) => i.kind !== 'checkpoint').reduce((n, i) => n + i.bytes, 0);
  type Pick = vscode.QuickPickItem & { item: StoredItem };
  const picks: Pick[] = items.map((item) => ({
    label: `${KIND_LABEL[item.kind]}: ${item.name}`,
    description: formatBytes(item.bytes),
    detail: `${KIND_DETAIL[item.kind]}; last used ${ago(item.lastUsed)}. ${item.path}`,
    item,
  }));
  const chosen = await vscode.window.showQuickPick(picks, {
    canPickMany: true,
    title: `Token Lens: Clean Up Storage (${formatBytes(total)} in all)`,
    placeHolder: 'Choose what to delete',
    matchOnDetail: true,
  });
  if (!chosen?.length) return;
  // Deleting a run deletes its checkpoint too: count it once.
  const runs = new Set(chosen.filter((c) => c.item.kind === 'trained').map((c) => c.item.path));
  const targets = chosen.map((c) => c.item).filter((i) => !(i.kind === 'checkpoint' && runs.has(path.dirname(i.path))));
  const bytes = targets.reduce((n, i) => n + i.bytes, 0);
  const confirm = await vscode.window.showWarningMessage(
    `Delete ${targets.length === 1 ? targets[0].name : `${targets.length} items`} (${formatBytes(bytes)})?`,
    { modal: true, detail: 'This cannot be undone.' }, 'Delete');
  if (confirm !== 'Delete') return;
  const { removed, failed } = removeStored(targets, roots);
  const gone = new Set(removed.filter((i) => i.kind === 'trained').map((i) => i.path));
  if (gone.size) {
    const trained = context.globalState.get<{ ref: string; label?: string }[]>(TRAINED_MODELS_KEY, []);
    await context.globalState.update(TRAINED_MODELS_KEY, trained.filter((t) => !gone.has(t.ref)));
  }
  for (const f of failed) log.info(`Clean up: could not delete ${f.item.path}: ${f.error}`);
  const freed = removed.reduce((n, i) => n + i.bytes, 0);
  if (failed.length) {
    log.report('Clean Up Storage', new Error(`Freed ${formatBytes(freed)}; ${failed.length} item(s) could not be deleted (see the log).`));
  } else {
    log.notify(`Freed ${formatBytes(freed)} (${removed.length} item${removed.length === 1 ? '' : 's'} deleted).`);
  }
}

/** Evicts prepared copies unused for a month or beyond the most recent few, off the start-up path. */
export function scheduleEviction(context: vscode.ExtensionContext, log: Log, inUse: () => string[]): vscode.Disposable {
  const timer = setTimeout(() => {
    try {
      const gone = evictPrepared(storageRoots(context).cacheDir, { ...PREPARED_LIMITS, except: inUse() });
      if (gone.length) log.info(`Evicted ${gone.length} old prepared model copies (${formatBytes(gone.reduce((n, i) => n + i.bytes, 0))}).`);
    } catch (e) {
      log.info(`Evicting old prepared copies failed: ${(e as Error).message}`);
    }
  }, 30_000);
  timer.unref?.();
  return { dispose: () => clearTimeout(timer) };
}

function ago(ms: number): string {
  const days = Math.floor((Date.now() - ms) / 86_400_000);
  if (days <= 0) return 'today';
  return days === 1 ? 'yesterday' : `${days} days ago`;
}
