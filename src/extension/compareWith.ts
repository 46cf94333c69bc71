// "Compare with…": the second model of the compare lens. It asks which model B is (a variant of the
// current model, made on the spot by quantizing it when the folder has none; a trained or recent model; a
// folder), keeps B loaded beside the current model, and compares a text under both. The Explain panel's
// Compare section, the difference heatmap and the fine-tune probe all use the B chosen here.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Comparison } from '../core/lenses/compare';
import type { DtypeChoice } from '../core/runtime/onnxFile';
import { Cancelled, type Log } from './log';
import { RECENT_MODELS_KEY, TRAINED_MODELS_KEY, type Models } from './models';
import { loadRuntime, type ModelSession } from './runtime';

/** Which model B is: a folder or Hub id, the variant to load, and how it is shown. */
export interface CompareTarget {
  ref: string;
  dtype: DtypeChoice;
  label: string;
  /** Write this variant of `ref` (a model folder) first, into Token Lens's storage. */
  quantize?: 'q8' | 'q4' | 'fp16';
}

const PRECISION_NAMES: Record<string, string> = { fp32: 'full precision', fp16: 'float16 weights', q8: '8-bit weights', q4: '4-bit weights' };

export class CompareWith implements vscode.Disposable {
  private other?: { key: string; target: CompareTarget; session: Promise<ModelSession> };
  private readonly changed = new vscode.EventEmitter<CompareTarget | undefined>();
  /** Fires when model B changes (the difference heatmap follows it). */
  readonly onDidChange = this.changed.event;

  constructor(private readonly context: vscode.ExtensionContext, private readonly models: Models, private readonly log: Log) {}

  get target(): CompareTarget | undefined {
    return this.other?.target;
  }

  /** The choices for B, given the current model (its variants first). */
  async choices(): Promise<CompareTarget[]> {
    const current = this.models.configuredRef();
    const name = current === this.models.builtin ? 'stories260K' : path.basename(current);
    const out: CompareTarget[] = [];
    const { findOnnxFile } = await import('../core/runtime/onnxFile');
    // The variant in use now is A itself: not offered as B.
    const inUse = vscode.workspace.getConfiguration('tokenLens').get<string>('dtype', 'auto');
    const others = (['q8', 'q4', 'fp16', 'fp32'] as const).filter((d) => d !== inUse && !(d === 'fp32' && inUse === 'auto'));
    if (current && fs.existsSync(current)) {
      for (const dtype of others) {
        const found = findOnnxFile(current, dtype);
        if (found) out.push({ ref: current, dtype, label: `${name} · ${dtype} (${found.file})` });
        else if (dtype !== 'fp32' && fs.existsSync(path.join(current, 'onnx', 'model.onnx'))) {
          out.push({ ref: current, dtype, label: `${name} · ${dtype}: quantize it now (${PRECISION_NAMES[dtype]})`, quantize: dtype });
        }
      }
    } else if (current) {
      for (const dtype of others) out.push({ ref: current, dtype, label: `${name} · ${dtype} (downloaded if needed)` });
    }
    const state = this.context.globalState;
    const trained = state.get<{ ref: string; label?: string }[]>(TRAINED_MODELS_KEY, []).map((t) => ({ ref: t.ref, label: t.label ?? path.basename(t.ref) }));
    const recent = state.get<string[]>(RECENT_MODELS_KEY, []).map((r) => ({ ref: r, label: r }));
    const builtin = this.models.builtin ? [{ ref: this.models.builtin, label: 'stories260K (built-in)' }] : [];
    for (const m of [...builtin, ...trained, ...recent]) {
      if (m.ref !== current && !out.some((o) => o.ref === m.ref)) out.push({ ref: m.ref, dtype: 'auto', label: m.label });
    }
    return out;
  }

  /** Asks which model B is; undefined when dismissed. */
  async pick(): Promise<CompareTarget | undefined> {
    type Item = vscode.QuickPickItem & { target?: CompareTarget; folder?: boolean };
    const items: Item[] = (await this.choices()).map((t) => ({ label: t.label, description: t.quantize ? undefined : t.ref === this.models.builtin ? undefined : t.ref, target: t }));
    items.push({ label: '$(folder-opened) Another model folder…', folder: true });
    const pick = await vscode.window.showQuickPick(items, { title: 'Token Lens: Compare with…', placeHolder: 'Model B: the text is scored by the current model (A) and by this one' });
    if (!pick) return undefined;
    if (!pick.folder) return pick.target;
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Compare with This Model' });
    const folder = uris?.[0]?.fsPath;
    return folder ? { ref: folder, dtype: 'auto', label: path.basename(folder) } : undefined;
  }

  /** Makes `target` model B (loaded at first use). */
  use(target: CompareTarget): void {
    const key = `${target.ref}\0${target.dtype}\0${target.quantize ?? ''}`;
    if (this.other?.key === key) return;
    const old = this.other;
    this.other = { key, target, session: this.load(target) };
    this.other.session.catch(() => { if (this.other?.key === key) this.other = undefined; });
    void old?.session.then((s) => s.dispose(), () => undefined);
    this.changed.fire(target);
  }

  /** Model B, loaded; undefined when none was chosen. */
  session(): Promise<ModelSession> | undefined {
    return this.other?.session;
  }

  /** The text under the current model (A) and model B. */
  async compare(text: string, signal?: AbortSignal): Promise<Comparison> {
    if (!this.other) throw new Cancelled('No model to compare with');
    const { target } = this.other;
    const [a, b] = [await this.models.session(), await this.other.session];
    const { compareModels } = await import('../core/lenses/compare');
    const nameA = a.ref === this.models.builtin ? 'stories260K' : path.basename(a.ref);
    return compareModels(a, b, text, { signal, names: [`${nameA}${'variant' in a ? ` (${(a as ModelSession).variant.replace(/^onnx\//, '')})` : ''}`, target.label.replace(/: quantize it now.*$/, '')] });
  }

  private async load(target: CompareTarget): Promise<ModelSession> {
    const config = vscode.workspace.getConfiguration('tokenLens');
    const storage = this.context.globalStorageUri.fsPath;
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Token Lens: loading ${target.label} to compare`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let ref = target.ref;
        if (target.quantize) {
          progress.report({ message: `quantizing to ${target.quantize}…` });
          ref = await this.quantized(target.ref, target.quantize, path.join(storage, 'quantized'));
        }
        if (abort.signal.aborted) throw new Cancelled('Compare with…');
        const { ModelSession } = await loadRuntime();
        this.log.info(`Compare with: loading ${ref} (${target.dtype})`);
        return ModelSession.load(ref, {
          cacheDir: path.join(storage, 'models'), dtype: target.dtype, signal: abort.signal,
          offline: config.get<boolean>('offline', false), remoteHost: config.get<string>('hubEndpoint', '').trim() || undefined,
          memoryBudgetBytes: this.models.memoryBudgetBytes(),
          onProgress: (p) => { if (p.message) progress.report({ message: p.message }); },
        });
      });
  }

  /** A variant written into storage (the model's own folder may be read-only: the built-in one is). */
  private async quantized(folder: string, to: 'q8' | 'q4' | 'fp16', root: string): Promise<string> {
    const stat = fs.statSync(path.join(folder, 'onnx', 'model.onnx'));
    const key = createHash('sha256').update(`${fs.realpathSync(folder)}\0${stat.size}\0${stat.mtimeMs}`).digest('hex').slice(0, 16);
    const out = path.join(root, key);
    const { VARIANT_FILE, quantizeModelFolder } = await import('../core/onnx/quantizeFolder');
    if (!fs.existsSync(path.join(out, 'onnx', VARIANT_FILE[to]))) {
      const r = await quantizeModelFolder({ model: folder, to, out });
      this.log.info(`Compare with: wrote ${r.file} (${r.rewritten} weight tensors, ${r.bytesBefore} -> ${r.bytesAfter} bytes)`);
    }
    return out;
  }

  dispose(): void {
    void this.other?.session.then((s) => s.dispose(), () => undefined);
    this.other = undefined;
    this.changed.dispose();
  }
}
