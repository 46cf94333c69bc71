// Hosts the Toy Fine-tune side view: keeps the chosen file and base folder, runs one FineTuneJob at a time
// (the training itself runs in a worker thread), and forwards its messages to the view.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TRAINING_PRESETS } from '../core/trainer/presets';
import { emptyRun, foldRun, ftMessage, isActive, validateFineTuneMessage, type FineTuneContext,
  type FineTuneHostToView, type FineTuneSettings, type FineTuneViewToHost, type RunSnapshot } from '../protocol';
import { FineTuneJob, inspectFile, saveModel, tokenLensFolderProblem } from './fineTuneJob';
import type { Log } from './log';
import { webviewHtml } from './webviewHtml';
import { rememberTrainedModel, type Models } from './models';

export const FINE_TUNE_VIEW = 'tokenLens.fineTune';

/** What the host knows about the view (the test hook's answer). */
export interface FineTuneViewState {
  file?: string;
  fileProblem?: string;
  folder?: string;
  busy: string;
  phase: RunSnapshot['phase'];
  step: number;
  out?: string;
  result?: RunSnapshot['result'];
  /** The last error the view shows (a refused start, a failed run). */
  error: string | null;
  visible: boolean;
}

export class FineTuneView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private viewDisposables: vscode.Disposable[] = [];
  private file?: string;
  private fileProblem?: string;
  private fileProbe: { prompt: string; target: string } | null = null;
  private fileWatch?: vscode.Disposable;
  private folder?: string;
  private run: RunSnapshot = emptyRun();
  private job?: FineTuneJob;
  private out?: string;
  private readonly registration: vscode.Disposable;

  constructor(private readonly context: vscode.ExtensionContext, private readonly models: Models, private readonly log: Log,
    private readonly explain: (text: string) => Promise<unknown>) {
    this.registration = vscode.window.registerWebviewViewProvider(FINE_TUNE_VIEW, this);
  }

  get state(): FineTuneViewState {
    return { file: this.file, fileProblem: this.fileProblem, folder: this.folder, busy: this.run.busy, phase: this.run.phase,
      step: this.run.last?.step ?? 0, out: this.out, result: this.run.result, error: this.run.error, visible: this.view?.visible ?? false };
  }

  /** The training file (explorer command, active editor); shows the view. */
  async useFile(uri: vscode.Uri | undefined): Promise<void> {
    uri ??= vscode.window.activeTextEditor?.document.uri;
    if (!uri || uri.scheme !== 'file') {
      this.fileProblem = uri ? `${uri.toString()} is not a file on disk: save it first.` : 'Open a text file in an editor, or choose one.';
    } else {
      this.setFile(uri.fsPath);
    }
    await vscode.commands.executeCommand(`${FINE_TUNE_VIEW}.focus`);
    this.postContext();
  }

  /** Trains on `file` from the model in `folder` (the walkthrough's one-click fine-tune); resolves when it ends. */
  async startOn(file: vscode.Uri, folder: string, settings: FineTuneSettings): Promise<void> {
    // Checked here too, so that a refused click leaves the running job's file and folder as they are.
    if (this.job && isActive(this.run.phase)) throw new Error('A training run is already going: stop it first.');
    this.folder = folder;
    await this.useFile(file);
    await this.start({ ...settings, base: 'folder' });
  }

  /** Checks the file now and again whenever it changes on disk, so its problem (or its absence) is always current. */
  private setFile(file: string): void {
    if (file !== this.file) {
      this.fileWatch?.dispose();
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)));
      const recheck = () => { this.checkFile(); this.postContext(); };
      this.fileWatch = vscode.Disposable.from(watcher, watcher.onDidChange(recheck), watcher.onDidCreate(recheck), watcher.onDidDelete(recheck),
        vscode.workspace.onDidSaveTextDocument((d) => { if (d.uri.fsPath === file) recheck(); }));
      this.file = file;
    }
    this.checkFile();
  }

  private checkFile(): void {
    if (!this.file) return;
    const { problem, probe } = inspectFile(this.file);
    this.fileProblem = problem;
    this.fileProbe = probe;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    for (const d of this.viewDisposables) d.dispose();
    this.view = view;
    const root = this.context.extensionUri;
    view.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(root, 'dist'), vscode.Uri.joinPath(root, 'media')] };
    const asUri = (...p: string[]) => view.webview.asWebviewUri(vscode.Uri.joinPath(root, ...p)).toString();
    view.webview.html = webviewHtml({
      cspSource: view.webview.cspSource, nonce: randomBytes(18).toString('base64url'),
      scriptUri: asUri('dist', 'webview', 'finetune.js'), styleUri: asUri('dist', 'webview', 'finetune.css'), title: 'Toy Fine-tune',
    });
    this.viewDisposables = [
      view.webview.onDidReceiveMessage((raw) => void this.receive(raw)),
      view.onDidDispose(() => { this.view = undefined; }),
      view.onDidChangeVisibility(() => { if (view.visible) { this.checkFile(); this.postContext(); } }),
      vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('tokenLens.model')) this.postContext(); }),
    ];
    if (!this.file && vscode.window.activeTextEditor?.document.uri.scheme === 'file') {
      this.setFile(vscode.window.activeTextEditor.document.uri.fsPath);
    }
  }

  /** A message from the view, checked at the door (the integration tests send theirs here too). */
  async receive(raw: unknown): Promise<void> {
    const msg = validateFineTuneMessage(raw);
    if (msg instanceof Error) {
      this.log.channel.warn(`Toy Fine-tune view sent an invalid message (ignored): ${msg.message}`);
      // Settings the view should have refused: say why nothing started rather than nothing at all.
      if ((raw as { type?: unknown } | null)?.type === 'start') this.post(ftMessage('error', { message: `Not started: ${msg.message}` }));
      return;
    }
    try {
      await this.handle(msg);
    } catch (err) {
      this.log.channel.error(`Toy Fine-tune, ${msg.type}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.post(ftMessage('error', { message: err instanceof Error ? err.message : String(err) }));
    }
  }

  private async handle(msg: FineTuneViewToHost): Promise<void> {
    switch (msg.type) {
      case 'ready':
        // The view restored its own saved state; the host's is the truth (a run may have moved on meanwhile).
        this.checkFile();
        this.postContext();
        this.view?.webview.postMessage(ftMessage('snapshot', { run: this.run }));
        return;
      case 'useActiveFile': return this.useFile(undefined);
      case 'pickFile': {
        const uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, canSelectMany: false, openLabel: 'Train on This File' });
        if (uris?.[0]) await this.useFile(uris[0]);
        return;
      }
      case 'pickFolder': {
        const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Fine-tune This Model' });
        const folder = uris?.[0]?.fsPath;
        if (!folder) return;
        const problem = tokenLensFolderProblem(folder);
        if (problem) throw new Error(problem);
        this.folder = folder;
        this.postContext();
        this.post(ftMessage('folderChosen', {}));
        return;
      }
      case 'start': return this.start(msg.settings);
      case 'stop':
        if (this.job && isActive(this.run.phase)) this.job.stop();
        // Nothing runs (a Stop that crossed the run's end): the view gets the host's state back rather than waiting.
        else void this.view?.webview.postMessage(ftMessage('snapshot', { run: this.run }));
        return;
      case 'pause': this.job?.pause(); return;
      case 'resume': this.job?.resume(); return;
      case 'save': return this.save();
      case 'explain': {
        // This window explains with the trained model; the tokenLens.model setting (and other windows) stay as they were.
        const out = this.finishedOut();
        await this.models.useInThisWindow(out);
        this.log.info(`Using ${out} in this window; the tokenLens.model setting is unchanged (Select Model… changes it).`);
        this.postContext();
        await this.explain(this.run.settings?.prompt ?? '');
        return;
      }
    }
  }

  /** Starts a run; resolves when it has ended (the tests wait on this). */
  async start(settings: FineTuneSettings): Promise<void> {
    if (this.job && isActive(this.run.phase)) throw new Error('A training run is already going: stop it first.');
    if (!this.file) throw new Error('Choose a training file first.');
    this.checkFile();
    this.postContext();
    if (this.fileProblem) throw new Error(this.fileProblem);
    let from: string | undefined;
    if (settings.base === 'current') {
      from = this.models.configuredRef();
      const p = from ? tokenLensFolderProblem(from) : 'No current model: select one first.';
      if (p) throw new Error(p);
    } else if (settings.base === 'folder') {
      if (!this.folder) throw new Error('Choose a model folder first.');
      from = this.folder;
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const name = `${path.basename(this.file).replace(/\.[^.]*$/, '')}-${from ? path.basename(from) : settings.base}-${stamp}`;
    const out = vscode.Uri.joinPath(this.context.globalStorageUri, 'trained', name).fsPath;
    this.out = out;
    this.post(ftMessage('runStarting', { settings, fileName: path.basename(this.file), steps: settings.steps }));
    this.log.info(`Toy Fine-tune: training on ${this.file}${from ? ` from ${from}` : ` (${settings.base}, from scratch)`} into ${out}`);
    const job = new FineTuneJob({ file: this.file, out, from, settings,
      cacheDir: vscode.Uri.joinPath(this.context.globalStorageUri, 'models').fsPath }, (m) => this.post(m));
    this.job = job;
    const result = await job.done;
    if (result?.exported) await rememberTrainedModel(this.context.globalState, out, `${name} (Toy Fine-tune)`);
    this.log.info(`Toy Fine-tune: ${result ? [result.message, result.warning].filter(Boolean).join(' ') : `failed: ${this.run.error}`}`);
  }

  private finishedOut(): string {
    if (!this.out || this.run.phase !== 'finished' || !this.run.result?.exported || !existsSync(this.out)) {
      throw new Error('No trained model yet: run training to the end (or stop it) first.');
    }
    return this.out;
  }

  private async save(): Promise<void> {
    const out = this.finishedOut();
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Save Model Here' });
    if (!uris?.[0]) return;
    const dest = path.join(uris[0].fsPath, path.basename(out));
    if (existsSync(dest)) throw new Error(`${dest} already exists: choose another folder.`);
    await saveModel(out, dest);
    await rememberTrainedModel(this.context.globalState, dest, path.basename(dest));
    this.post(ftMessage('saved', { path: dest }));
  }

  private contextMessage(): FineTuneContext {
    const ref = this.models.configuredRef();
    const reason = ref ? tokenLensFolderProblem(ref) : undefined;
    return {
      file: this.file ? { path: this.file, name: path.basename(this.file) } : null,
      fileProblem: this.fileProblem,
      current: ref ? { ref, usable: !reason, reason } : null,
      folder: this.folder ?? null,
      probe: this.fileProbe,
      presets: Object.entries(TRAINING_PRESETS).map(([name, p]) => ({ name, layers: p.n_layer, heads: p.n_head, embd: p.n_embd, block: p.block_size, batch: p.batch_size })),
    };
  }

  private postContext(): void {
    void this.view?.webview.postMessage(ftMessage('context', this.contextMessage()));
  }

  private post(m: FineTuneHostToView): void {
    this.run = foldRun(this.run, m);
    void this.view?.webview.postMessage(m);
  }

  dispose(): void {
    void this.job?.kill();
    this.fileWatch?.dispose();
    for (const d of this.viewDisposables) d.dispose();
    this.registration.dispose();
  }
}
