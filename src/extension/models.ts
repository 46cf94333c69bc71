import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { importCheckpointFlow, importedModels } from './importCheckpoint';
import { BUILTIN_MODEL_DETAIL, BUILTIN_MODEL_LABEL, builtinModelFolder } from './builtinModel';
import { Cancelled, isAbort, Log, UserError } from './log';
import { loadRuntime, type Engine, type ModelSession } from './runtime';
import type { RemoteApi } from '../core/engines/load';
import { pickHubVariant } from './variantPicker';
import { ggufModelItems } from './ggufModels';

/** globalState keys; the fine-tune side appends `{ ref, label }` to TRAINED_MODELS_KEY. */
export const RECENT_MODELS_KEY = 'tokenLens.recentModels';
export const TRAINED_MODELS_KEY = 'tokenLens.trainedModels';
/** SecretStorage key of the remote server's API key (never a setting). */
export const REMOTE_API_KEY_SECRET = 'tokenLens.remote.apiKey';

export const RECOMMENDED_MODELS = [
  { ref: 'Xenova/distilgpt2', detail: 'DistilGPT-2, 82M parameters: GPT-2 tokens, shows attention' },
  { ref: 'Xenova/gpt2', detail: 'GPT-2 small, 124M parameters: the GLTR reference model' },
  { ref: 'onnx-community/SmolLM2-135M-Instruct', detail: 'SmolLM2 135M: a small modern Llama-style model' },
];

export type ModelState = 'none' | 'loading' | 'ready' | 'error';

/** Remembers a model trained in Toy Fine-tune (newest first) so "Select Model…" lists it. */
export async function rememberTrainedModel(state: vscode.Memento, ref: string, label: string): Promise<void> {
  const trained = state.get<{ ref: string; label?: string }[]>(TRAINED_MODELS_KEY, []);
  await state.update(TRAINED_MODELS_KEY, [{ ref, label }, ...trained.filter((t) => t.ref !== ref)].slice(0, 12));
}

/**
 * Makes `ref` the current model: writes the `tokenLens.model` setting, which every view follows. It writes where
 * the setting is set now, since a workspace value would hide a new user value. An empty ref is the built-in model.
 */
export async function useModel(ref: string): Promise<void> {
  const config = vscode.workspace.getConfiguration('tokenLens');
  // A workspace value wins over the user's, so a new choice goes where the current one came from.
  const inWorkspace = config.inspect<string>('model')?.workspaceValue !== undefined;
  await config.update('model', ref || (inWorkspace ? '' : undefined),
    inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
}

/** `~/x` and `./x` become absolute folders; anything else is passed on (a Hub id or an absolute folder). */
export function resolveModelRef(ref: string, workspaceFolder?: string): string {
  const r = ref.trim();
  if (r === '~' || r.startsWith('~/')) return path.join(os.homedir(), r.slice(1));
  if ((r.startsWith('./') || r.startsWith('../')) && workspaceFolder) return path.resolve(workspaceFolder, r);
  return r;
}

/** Owns the loaded model, its status bar item and the "Select Model…" quick pick. */
export class Models implements vscode.Disposable {
  private current?: Engine;
  private loading?: { ref: string; promise: Promise<Engine> };
  /** Counts loads: only the newest one may change the state or the status bar. */
  private loads = 0;
  /** Cancels the load in flight when the configured model changes under it. */
  private loadAbort?: AbortController;
  private stateValue: ModelState = 'none';
  /** The model an empty `tokenLens.model` stands for (undefined: this build has none). */
  readonly builtin: string | undefined;
  /** A model used in this window only ("Explain with This Model"): the `tokenLens.model` setting stays as it is. */
  private windowRef?: string;
  private readonly statusBar = vscode.window.createStatusBarItem('tokenLens.model', vscode.StatusBarAlignment.Right, 100);
  private readonly changed = new vscode.EventEmitter<Engine | undefined>();
  private readonly disposables: vscode.Disposable[] = [this.statusBar, this.changed];
  /** Fires when the loaded model changes (undefined: unloaded). */
  readonly onDidChange = this.changed.event;

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: Log) {
    this.builtin = builtinModelFolder(context.extensionPath);
    this.statusBar.name = 'Token Lens Model';
    this.statusBar.command = 'tokenLens.selectModel';
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('tokenLens.model')) this.windowRef = undefined;
      if (['model', 'offline', 'hubEndpoint', 'dtype', 'llama.fast', 'remote'].some((k) => e.affectsConfiguration(`tokenLens.${k}`))) {
        this.loadAbort?.abort();
        void this.unload();
      }
      if (e.affectsConfiguration('tokenLens.memoryBudgetMB') && this.current) this.current.memory.budgetBytes = this.memoryBudgetBytes();
    }));
    this.render();
    this.statusBar.show();
  }

  get state(): ModelState {
    return this.stateValue;
  }

  /** The loaded model, without loading one (hovers must never start a download). */
  get ready(): Engine | undefined {
    return this.current;
  }

  /** Uses `ref` in this window until a model is selected again; every view follows, other windows do not. */
  async useInThisWindow(ref: string): Promise<void> {
    if (this.windowRef === ref) return;
    this.windowRef = ref;
    await this.unload();
  }

  /** The model to use: the `tokenLens.model` setting, or the built-in model when it is empty. */
  configuredRef(): string {
    if (this.windowRef) return this.windowRef;
    const ref = vscode.workspace.getConfiguration('tokenLens').get<string>('model', '');
    return resolveModelRef(ref, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath) || (this.builtin ?? '');
  }

  /** The configured model, loaded on first use; asks for one when none is configured. */
  async session(): Promise<Engine> {
    let ref = this.configuredRef();
    if (!ref) {
      this.log.info('No model configured (tokenLens.model): asking for one');
      const picked = await this.select();
      if (!picked) throw new Cancelled('No model selected');
      ref = this.configuredRef();
    }
    if (this.current && this.current.ref === ref) return this.current;
    if (this.loading && this.loading.ref === ref) return this.loading.promise;
    const promise = this.load(ref);
    this.loading = { ref, promise };
    try {
      return await promise;
    } finally {
      if (this.loading?.promise === promise) this.loading = undefined;
    }
  }

  /** The quick pick; returns the chosen ref after writing it to the `tokenLens.model` setting. */
  async select(): Promise<string | undefined> {
    type Item = vscode.QuickPickItem & { ref?: string; action?: 'folder' | 'hub' | 'builtin' | 'import' | 'gguf'; problem?: string };
    const sep = (label: string): Item => ({ label, kind: vscode.QuickPickItemKind.Separator });
    const current = this.configuredRef();
    const mark = (ref: string) => (ref === current ? '$(check) ' : '');
    const trained = this.context.globalState.get<{ ref: string; label?: string }[]>(TRAINED_MODELS_KEY, []);
    const imported = importedModels(this.context.globalState);
    const recent = this.context.globalState.get<string[]>(RECENT_MODELS_KEY, [])
      .filter((r) => !RECOMMENDED_MODELS.some((m) => m.ref === r) && !trained.some((t) => t.ref === r) && r !== this.builtin && !imported.some((m) => m.ref === r));
    const items: Item[] = [
      ...(this.builtin ? [{ label: mark(this.builtin) + BUILTIN_MODEL_LABEL, detail: BUILTIN_MODEL_DETAIL, action: 'builtin' as const }] : []),
      sep('Recommended (downloaded once from the Hugging Face Hub)'),
      ...RECOMMENDED_MODELS.map((m) => ({ label: mark(m.ref) + m.ref, detail: m.detail, ref: m.ref })),
      ...(trained.length ? [sep('Trained in Toy Fine-tune'), ...trained.map((t) => ({ label: mark(t.ref) + (t.label ?? path.basename(t.ref)), description: t.ref, ref: t.ref }))] : []),
      ...(imported.length ? [sep('Imported checkpoints'), ...imported.map((m) => ({ label: mark(m.ref) + m.label, description: m.source, ref: m.ref }))] : []),
      ...ggufModelItems(mark, sep),
      ...remoteItems(mark, sep),
      ...(recent.length ? [sep('Recent'), ...recent.map((r) => ({ label: mark(r) + r, ref: r }))] : []),
      sep('Other'),
      { label: '$(package) Import a checkpoint…', detail: 'A Hugging Face folder (GPT-2, Llama, Qwen2, Mistral, Pythia), a nanoGPT ckpt.pt or a llama2.c .bin', action: 'import' },
      { label: '$(file-binary) GGUF file…', detail: 'Any GGUF model (llama.cpp, Ollama, LM Studio downloads), run by llama.cpp on the CPU', action: 'gguf' },
      { label: '$(folder-opened) Local model folder…', detail: 'A folder with config.json, tokenizer.json and an ONNX decoder in onnx/', action: 'folder' },
      { label: '$(cloud-download) Hugging Face Hub id…', detail: 'Any causal language model with ONNX weights, e.g. Xenova/gpt2', action: 'hub' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'Token Lens: Select Model', placeHolder: current === this.builtin ? BUILTIN_MODEL_LABEL : current || 'No model selected yet', matchOnDetail: true });
    if (!pick) return undefined;
    let ref = pick.ref;
    if (pick.problem) {
      void vscode.window.showWarningMessage(pick.problem);
      return undefined;
    }
    if (pick.action === 'gguf') {
      const uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, filters: { 'GGUF models': ['gguf'] }, openLabel: 'Use This Model' });
      ref = uris?.[0]?.fsPath;
    } else if (pick.action === 'builtin') {
      await useModel('');
      return this.builtin;
    } else if (pick.action === 'folder') {
      const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use This Model' });
      ref = uris?.[0]?.fsPath;
    } else if (pick.action === 'import') {
      ref = await importCheckpointFlow(this.context, this.log);
    } else if (pick.action === 'hub') {
      ref = (await vscode.window.showInputBox({ title: 'Hugging Face Hub model id', placeHolder: 'owner/name', validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? undefined : 'Expected owner/name') }))?.trim();
    }
    if (!ref) return undefined;
    const isHub = /^[\w.-]+\/[\w.-]+$/.test(ref) && !fs.existsSync(ref);
    if (isHub && !(await pickHubVariant(ref, this.log))) return undefined;
    const wasWindowOnly = this.windowRef !== undefined;
    this.windowRef = undefined;
    await useModel(ref);
    if (wasWindowOnly) await this.unload();
    return ref;
  }

  /** `tokenLens.memoryBudgetMB` in bytes: what analyses may keep (logits, attention, scores). */
  memoryBudgetBytes(): number {
    const mb = vscode.workspace.getConfiguration('tokenLens').get<number>('memoryBudgetMB', 300);
    return Math.max(16, Number.isFinite(mb) ? mb : 300) * 2 ** 20;
  }

  private async load(ref: string): Promise<Engine> {
    const load = ++this.loads;
    const newest = () => load === this.loads;
    this.loadAbort?.abort();
    const abort = (this.loadAbort = new AbortController());
    await this.unload();
    this.setState('loading', ref);
    const config = vscode.workspace.getConfiguration('tokenLens');
    const offline = config.get<boolean>('offline', false);
    const remoteHost = config.get<string>('hubEndpoint', '').trim() || undefined;
    const dtype = config.get<'auto' | 'fp32' | 'fp16' | 'q8' | 'q4'>('dtype', 'auto');
    const cacheDir = vscode.Uri.joinPath(this.context.globalStorageUri, 'models').fsPath;
    this.log.info(`Loading model ${ref} (offline: ${offline}, cache: ${cacheDir})`);
    const started = Date.now();
    try {
      const session = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Token Lens: loading ${ref}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => abort.abort());
          const { loadEngine } = await loadRuntime();
          this.log.info(`  runtime loaded (${Date.now() - started} ms)`);
          const loading = loadEngine(ref, {
            llama: { fast: config.get<boolean>('llama.fast', false) },
            remote: {
              model: config.get<string>('remote.model', '') || undefined,
              api: config.get<RemoteApi>('remote.api', 'auto'),
              apiKey: await this.context.secrets.get(REMOTE_API_KEY_SECRET),
              timeoutMs: Math.max(1, config.get<number>('remote.timeoutSeconds', 60)) * 1000,
            },
            cacheDir, offline, remoteHost, dtype, signal: abort.signal, memoryBudgetBytes: this.memoryBudgetBytes(),
            onProgress: (p) => {
              if (p.status === 'progress' && p.file) progress.report({ message: `${p.file} ${Math.round(p.progress ?? 0)}%` });
              else if (p.message) progress.report({ message: p.message });
              if (p.status === 'done' || p.status === 'prepare' || p.status === 'ready') this.log.info(`  ${p.status}${p.file ? ` ${p.file}` : ''}${p.message ? `: ${p.message}` : ''} (${Date.now() - started} ms)`);
            },
          });
          // Cancel answers at once even if a step inside the runtime ignores the signal; a session that
          // arrives afterwards is released.
          const cancelled = new Promise<never>((_, reject) =>
            abort.signal.addEventListener('abort', () => reject(new Cancelled(`Loading ${ref}`))));
          void loading.then((s) => (abort.signal.aborted ? s.dispose() : undefined), () => undefined);
          return Promise.race([loading, cancelled]);
        });
      if (this.configuredRef() !== ref || !newest()) {
        await session.dispose();
        throw new Cancelled(`Loading ${ref}`);
      }
      this.current = session;
      this.log.info(`Model ${ref} ready in ${Date.now() - started} ms: ${JSON.stringify(session.info)}`);
      await this.remember(ref);
      this.setState('ready', ref);
      this.changed.fire(session);
      return session;
    } catch (err) {
      // A load superseded by a newer one says nothing: the status bar belongs to the newer one.
      if (err instanceof Cancelled || isAbort(err) || abort.signal.aborted) {
        if (newest()) this.setState('none', ref);
        throw new Cancelled(`Loading ${ref}`);
      }
      if (newest()) this.setState('error', ref);
      throw explainLoadError(ref, offline, err);
    } finally {
      if (this.loadAbort === abort) this.loadAbort = undefined;
    }
  }

  private async remember(ref: string): Promise<void> {
    if (ref === this.builtin) return;   // always listed first; its path changes with every update
    const recent = this.context.globalState.get<string[]>(RECENT_MODELS_KEY, []);
    await this.context.globalState.update(RECENT_MODELS_KEY, [ref, ...recent.filter((r) => r !== ref)].slice(0, 8));
  }

  private async unload(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    this.setState('none', this.configuredRef());
    if (old) {
      this.changed.fire(undefined);
      await old.dispose();
    }
  }

  private setState(state: ModelState, ref: string): void {
    this.stateValue = state;
    this.render(ref);
  }

  private render(ref = this.configuredRef()): void {
    const name = !ref ? 'no model' : ref === this.builtin ? 'stories260K (built-in)' : path.basename(ref);
    const icon = { none: '$(hubot)', loading: '$(loading~spin)', ready: '$(hubot)', error: '$(error)' }[this.stateValue];
    this.statusBar.text = `${icon} ${name}${this.windowRef ? ' (this window)' : ''}`;
    const info = this.current?.info;
    this.statusBar.tooltip = !ref ? 'Token Lens: no model selected. Click to choose one.'
      : this.stateValue === 'ready' && info
        ? `Token Lens: ${ref}\n${info.arch}, ${info.layers} layers × ${info.heads} heads, vocabulary ${info.vocabSize}, context ${info.contextLength}\nattention: ${info.attention}${info.attentionNote ? ` (${info.attentionNote})` : ''}\nClick to change.`
        : `Token Lens: ${ref} (${{ none: 'not loaded yet', loading: 'loading…', ready: 'ready', error: 'failed to load: see Show Log' }[this.stateValue]}). Click to change.`;
    this.statusBar.backgroundColor = this.stateValue === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.loadAbort?.abort();
    void this.current?.dispose();
    this.current = undefined;
    for (const d of this.disposables) d.dispose();
  }
}

function explainLoadError(ref: string, offline: boolean, err: unknown): UserError {
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack ?? message : message;
  // The runtime's ModelLoadError already speaks to the user (missing files, offline, download failure).
  if (err instanceof Error && err.name === 'ModelLoadError') {
    return new UserError(message, [(err as Error & { detail?: string }).detail, stack].filter(Boolean).join('\n'));
  }
  const hint = offline ? ' (tokenLens.offline is on)' : '';
  return new UserError(`Could not load model "${ref}"${hint}: ${message}`, stack);
}

/** The configured completions server, as a Select Model… item. */
function remoteItems(mark: (ref: string) => string, sep: (label: string) => vscode.QuickPickItem): (vscode.QuickPickItem & { ref?: string })[] {
  const config = vscode.workspace.getConfiguration('tokenLens');
  const url = config.get<string>('remote.url', '').trim();
  if (!url) return [];
  const model = config.get<string>('remote.model', '');
  return [sep('Remote server (tokenLens.remote.url)'), { label: mark(url) + (model || 'first served model'), description: url, detail: 'Scored on the server: prompt log-probabilities, its top candidates per position', ref: url }];
}
