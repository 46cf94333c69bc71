import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { SamplingControls } from '../core/types';
import {
  analysisMessage, attentionMessages, distributionMessage, hostMessage, validateWebviewMessage,
  type HostToWebview, type PanelTab, type WebviewToHost,
} from '../protocol';
import { describeWindow } from './documentText';
import { Cancelled, isAbort, type Log } from './log';
import type { Models } from './models';
import { PanelLenses } from './panelLenses';
import type { CompareWith } from './compareWith';
import type { Analysis } from './runtime';
import { webviewHtml } from './webviewHtml';

export const EXPLAIN_VIEW_TYPE = 'tokenLens.explain';
const DEFAULT_CONTROLS: SamplingControls = { temperature: 1, topK: 0, topP: 1 };

/** Where the panel's text came from, so "Insert appended text" knows which document to edit. */
export interface ExplainSource {
  uri: string;
  /** Offset in the document where the panel's text ends. */
  offset: number;
  /** Characters of the document left out before the panel's text (a long text is taken from its end). */
  cut?: number;
}

/** What the host knows about the panel (also the test hook's answer). */
export interface ExplainPanelState {
  text: string;
  model?: string;
  selected: number;
  tokens: number;
  meanLoss?: number;
  truncated: boolean;
  visible: boolean;
}

/**
 * Hosts the Explain panel: one panel, revealed beside the editor, answering the webview from the cached
 * Analysis of its text (the model runs again only when the text changes). Also restores the panel after a
 * reload as its WebviewPanelSerializer.
 */
export class ExplainPanel implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private panel?: vscode.WebviewPanel;
  private panelDisposables: vscode.Disposable[] = [];
  private text = '';
  private source?: ExplainSource;
  private analysis?: Analysis;
  private selected = 0;
  private controls = DEFAULT_CONTROLS;
  private request = 0;
  private pending?: Promise<Analysis | undefined>;
  /** The last message of each type posted to the webview (for tests: what the panel was actually sent). */
  private readonly lastPosted = new Map<HostToWebview['type'], HostToWebview>();
  /** The analysis in flight: a newer one supersedes it before it reaches the model. */
  private inflight?: AbortController;
  private readonly registration: vscode.Disposable;
  private readonly lenses = new PanelLenses((msg) => this.post(msg), (what, err) =>
    this.log.channel.error(`Explain panel, ${what}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  /** The tab the panel should bring forward with its analysis, until the webview acts on it. */
  private openTab?: PanelTab;

  /** Whether the panel shows a comparison: a new analysis of its text then compares again. */
  private comparing = false;

  constructor(private readonly context: vscode.ExtensionContext, private readonly models: Models, private readonly log: Log,
    private readonly compare?: CompareWith) {
    this.registration = vscode.window.registerWebviewPanelSerializer(EXPLAIN_VIEW_TYPE, this);
  }

  get lastAnalysis(): Analysis | undefined {
    return this.analysis;
  }

  /** The last message of a type posted to the webview, as the webview receives it (copied as data). */
  posted(type: HostToWebview['type']): unknown {
    const msg = this.lastPosted.get(type);
    // A typed array reaches the webview as the same typed array: recorded here as its numbers.
    return msg === undefined ? undefined
      : JSON.parse(JSON.stringify(msg, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
  }

  get state(): ExplainPanelState | undefined {
    if (!this.panel) return undefined;
    return {
      text: this.text, model: this.analysis?.modelId, selected: this.selected, tokens: this.analysis?.tokens.length ?? 0,
      meanLoss: this.analysis?.meanLoss, truncated: this.analysis?.window.truncated ?? false, visible: this.panel.visible,
    };
  }

  /** Shows the panel beside the editor, keeping focus there, and explains `text`. */
  async explain(text: string, source?: ExplainSource, tab?: PanelTab): Promise<Analysis | undefined> {
    if (!this.panel) this.attach(vscode.window.createWebviewPanel(EXPLAIN_VIEW_TYPE, 'Explain Next Token',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, this.webviewOptions()));
    else this.panel.reveal(vscode.ViewColumn.Beside, true);
    this.text = text;
    this.source = source;
    this.analysis = undefined;
    this.selected = Number.MAX_SAFE_INTEGER;
    this.openTab = tab;
    this.lenses.cancel();
    return this.analyse();
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown): Promise<void> {
    const state = saved as { analysis?: { text?: unknown; selected?: unknown } } | undefined;
    const text = state?.analysis?.text;
    this.text = typeof text === 'string' ? text : '';
    this.selected = typeof state?.analysis?.selected === 'number' ? state.analysis.selected : 0;
    this.attach(panel);
    // The webview re-renders its saved state and says `ready`; the analysis is recomputed then.
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    const root = this.context.extensionUri;
    return {
      enableScripts: true,
      enableFindWidget: true,
      localResourceRoots: [vscode.Uri.joinPath(root, 'dist'), vscode.Uri.joinPath(root, 'media')],
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.disposePanel();
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'token-lens.svg');
    panel.webview.options = this.webviewOptions();
    const asUri = (...p: string[]) => panel.webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, ...p)).toString();
    panel.webview.html = webviewHtml({
      cspSource: panel.webview.cspSource,
      nonce: randomBytes(18).toString('base64url'),
      scriptUri: asUri('dist', 'webview', 'explain.js'),
      styleUri: asUri('dist', 'webview', 'explain.css'),
      title: 'Explain Next Token',
    });
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((raw) => void this.receive(raw)),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.analysis?.releaseAttention();
        this.analysis = undefined;
        this.request++;
        this.inflight?.abort();
        this.lenses.cancel();
        this.disposePanel();
      }),
      this.models.onDidChange((session) => {
        if (session && this.analysis && this.analysis.modelId !== session.ref) void this.analyse().catch(() => undefined);
      }),
    ];
  }

  /** A message from the webview (also the test hook's door): validated, then handled. */
  async receive(raw: unknown): Promise<void> {
    const msg = validateWebviewMessage(raw);
    if (msg instanceof Error) {
      this.log.channel.warn(`Explain panel sent an invalid message (ignored): ${msg.message}`);
      return;
    }
    try {
      await this.handle(msg);
    } catch (err) {
      this.log.channel.error(`Explain panel, ${msg.type}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.post(hostMessage('error', { message: err instanceof Error ? err.message : String(err) }));
    }
  }

  private async handle(msg: WebviewToHost): Promise<void> {
    const a = this.analysis;
    switch (msg.type) {
      case 'ready': {
        // A message posted before the webview listened may be lost: send the analysis (again) now.
        const ready = a ?? (this.pending ? await this.pending.catch(() => undefined) : this.text ? await this.analyse() : undefined);
        if (ready && ready === this.analysis) await this.postAnalysis(ready);
        if (ready && this.comparing) await this.postComparison();
        return;
      }
      case 'selectPosition':
        if (!a || msg.position >= a.tokens.length) return;
        this.selected = msg.position;
        await this.postDistribution(a);
        return;
      case 'setControls':
        this.controls = { temperature: msg.temperature, topK: msg.topK, topP: msg.topP };
        if (a) await this.postDistribution(a);
        return;
      case 'requestAttention': {
        const replies = a ? await attentionMessages(a, msg.layer, msg.head) : null;
        if (!replies) {
          throw new Error(a?.attention ? `No head ${msg.head} in layer ${msg.layer}.` : a?.attentionNote ?? 'Attention is not available for this analysis.');
        }
        for (const reply of replies) this.post(reply);
        return;
      }
      case 'appendToken':
        // Step-through generation edits the panel's own text; the document changes only on insertIntoDocument.
        this.text += msg.text;
        this.selected = Number.MAX_SAFE_INTEGER;
        await this.analyse();
        return;
      case 'insertIntoDocument':
        await this.insert(msg.text);
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(msg.text);
        return;
      case 'requestLogitLens':
        if (this.openTab === 'logitLens') this.openTab = undefined;
        // Every cell carries its top-k: at most 10 keeps a 12-block, 1,024-token grid near 120k candidates.
        if (this.text) await this.lenses.logitLens(await this.models.session(), this.text, Math.min(10, this.topK()));
        return;
      case 'requestAttribution':
        // The webview acted on the tab it was sent to.
        if (this.openTab === 'attribution') this.openTab = undefined;
        if (this.text) await this.lenses.attribution(await this.models.session(), this.text, msg);
        return;
      case 'cancelLens':
        this.lenses.cancel();
        return;
      case 'compareWith': {
        const target = await this.compare?.pick();
        if (!target) return;
        this.compare!.use(target);
        await this.showComparison();
        return;
      }
    }
  }

  /** Compares the panel's text with the model chosen in "Compare with…" (and again after each new analysis). */
  async showComparison(): Promise<void> {
    if (!this.panel) return;
    this.comparing = true;
    this.post(hostMessage('showTab', { tab: 'compare' }));
    await this.postComparison();
  }

  /** The panel's text under the current model and the one chosen with "Compare with…". */
  private async postComparison(): Promise<void> {
    if (!this.compare?.target || !this.text) return;
    const text = this.text;
    this.post(hostMessage('busy', { message: `Comparing with ${this.compare.target.label}…` }));
    try {
      const c = await this.compare.compare(text);
      if (text !== this.text) return;
      this.post(hostMessage('comparison', c));
    } finally {
      this.post(hostMessage('busy', { message: '' }));
    }
  }

  /** Analyses the panel's text (with attention: later requests are answered from this one pass). */
  private analyse(): Promise<Analysis | undefined> {
    const pending = this.analyseNow();
    this.pending = pending;
    void pending.catch(() => undefined).finally(() => {
      if (this.pending === pending) this.pending = undefined;
    });
    return pending;
  }

  private async analyseNow(): Promise<Analysis | undefined> {
    const request = ++this.request;
    const text = this.text;
    this.inflight?.abort();
    const abort = (this.inflight = new AbortController());
    try {
      this.post(hostMessage('busy', { message: this.models.ready ? 'Analysing…' : 'Loading the model…' }));
      const session = await this.models.session();
      if (request !== this.request) return undefined;
      this.post(hostMessage('busy', { message: 'Analysing…' }));
      const cut = this.source?.cut ?? 0;
      const analysis = await session.analyze(text, { attention: true, signal: abort.signal, precedingChars: cut });
      if (request !== this.request || !this.panel) return undefined;
      this.analysis = analysis;
      this.selected = Math.min(this.selected, analysis.tokens.length - 1);
      await this.postAnalysis(analysis);
      if (this.comparing) void this.postComparison().catch((err) => this.log.channel.warn(`Compare: ${err instanceof Error ? err.message : String(err)}`));
      const note = describeWindow(analysis.window, analysis.tokens.length, text.length, cut);
      if (note) this.log.notify(note);
      return analysis;
    } catch (err) {
      if (request !== this.request) return undefined;
      const cancelled = err instanceof Cancelled || isAbort(err);
      this.post(cancelled ? hostMessage('busy', { message: '' })
        : hostMessage('error', { message: err instanceof Error ? err.message : String(err) }));
      throw err;
    }
  }

  private async postAnalysis(a: Analysis): Promise<void> {
    const engine = this.models.ready;
    if (!engine) return;
    const message = await analysisMessage(engine.info, a, { controls: this.controls, k: this.topK(), selected: this.selected, gradientsNote: engine.missing.gradients });
    // The message may open elsewhere (a masked model opens on its first blank): later answers follow it.
    this.selected = message.selected;
    this.post(message);
    // Sent with every analysis until the webview acts on it: a post before the webview listens is lost.
    if (this.openTab) this.post(hostMessage('showTab', { tab: this.openTab }));
  }

  private async postDistribution(a: Analysis): Promise<void> {
    this.post(await distributionMessage(a, this.selected, this.controls, this.topK()));
  }

  private topK(): number {
    return Math.max(1, Math.min(100, vscode.workspace.getConfiguration('tokenLens').get<number>('topK', 10)));
  }

  private async insert(text: string): Promise<void> {
    const uri = this.source?.uri;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri)
      ?? vscode.window.visibleTextEditors.find((e) => e.viewColumn !== undefined);
    if (!editor) throw new Error('No editor to insert into: open the document first.');
    await editor.edit((b) => b.insert(editor.selection.active, text));
  }

  private post(msg: HostToWebview): void {
    if (!this.panel) return;
    this.lastPosted.set(msg.type, msg);
    void this.panel.webview.postMessage(msg);
  }

  private disposePanel(): void {
    for (const d of this.panelDisposables) d.dispose();
    this.panelDisposables = [];
  }

  dispose(): void {
    this.disposePanel();
    this.panel?.dispose();
    this.registration.dispose();
  }
}
