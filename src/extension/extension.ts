// Wires the providers together. Nothing here loads a model or the runtime: that happens at first use.
import * as vscode from 'vscode';
import { DocumentAnalyses } from './documentAnalyses';
import { CHARS_PER_CONTEXT_TOKEN, explainTarget, type TextReader } from './documentText';
import { ExplainPanel, type ExplainPanelState } from './explainPanel';
import { CompareWith, type CompareTarget } from './compareWith';
import { FineTuneView, type FineTuneViewState } from './fineTuneView';
import { LossHeatmap, type HeatmapCoverage } from './heatmap';
import { EXPLAIN_FROM_HERE, type ExplainFromHereArgs, TokenHover } from './hover';
import { importCheckpointFlow, type ImportRequest } from './importCheckpoint';
import { Log, UserError } from './log';
import { LogitLensHint } from './logitLensHint';
import { Models, REMOTE_API_KEY_SECRET, useModel, type ModelState } from './models';
import type { HostToWebview, PanelTab } from '../protocol';
import { cleanUpStorage, modelFoldersInUse, scheduleEviction } from './storageCleanup';
import type { Analysis } from './runtime';
import { DEFAULT_PROBE } from '../protocol';
import { EXPLAIN_SAMPLE, OPEN_SAMPLE, openSample, ZOO_FINE_TUNE, zooFile, zooSettings } from './walkthrough';

/**
 * What `activate` returns, for integration tests (`vscode.extensions.getExtension(id).exports`):
 * - lastAnalysis(): the Explain panel's current analysis;
 * - panelState(): the Explain panel as the host sees it (undefined when closed);
 * - panelPosted(type): the last message of that type the Explain panel posted, as its webview received it;
 * - heatmapDecorationCount(): token ranges the loss heatmap decorated in its last update (0 when off);
 * - heatmapLegend(): the heatmap's status-bar text and tooltip Markdown (undefined when off);
 * - heatmapCoverage(): per editor of the heatmap's last update, the visible ranges and the text the analyses covered;
 * - heatmapFailures(): how many heatmap updates failed since it was turned on;
 * - hoverText(uri, line, character): the hover's Markdown at a position (undefined: no hover there);
 * - modelState(): none | loading | ready | error;
 * - lastMessage(): the last message Token Lens showed the user ({ severity, message }), if any;
 * - messagesShown(): how many messages Token Lens has shown the user;
 * - runtimeStats(): forward passes run and bytes kept by the loaded model's analyses (undefined: no model);
 * - logitLensHint(): the logit lens hint shown at the cursor (undefined: none);
 * - panelMessage(message): hands a message to the Explain panel's host as if its webview had sent it;
 * - activationMs: how long `activate` took.
 */
export interface TokenLensApi {
  lastAnalysis(): Analysis | undefined;
  panelState(): ExplainPanelState | undefined;
  panelPosted(type: HostToWebview['type']): unknown;
  heatmapDecorationCount(): number;
  heatmapLegend(): { text: string; tooltip: string } | undefined;
  heatmapCoverage(): HeatmapCoverage[];
  heatmapFailures(): number;
  hoverText(uri: string, line: number, character: number): Promise<string | undefined>;
  modelState(): ModelState;
  lastMessage(): { severity: 'info' | 'error'; message: string } | undefined;
  messagesShown(): number;
  runtimeStats(): { forwards: number; retainedBytes: number; budgetBytes: number } | undefined;
  logitLensHint(): string | undefined;
  panelMessage(message: unknown): Promise<void>;
  /** The Toy Fine-tune view as the host sees it. */
  fineTuneState(): FineTuneViewState;
  /** Hands a message to the Toy Fine-tune host as if its view had sent it; resolves once handled (a start: once the run ended). */
  fineTuneMessage(message: unknown): Promise<void>;
  activationMs: number;
}

export function activate(context: vscode.ExtensionContext): TokenLensApi {
  const started = performance.now();
  const log = new Log();
  const models = new Models(context, log);
  const analyses = new DocumentAnalyses(models);
  const compareWith = new CompareWith(context, models, log);
  const panel = new ExplainPanel(context, models, log, compareWith);
  const hover = new TokenHover(models, analyses, log);
  const heatmap = new LossHeatmap(models, analyses, log, compareWith);
  const fineTune = new FineTuneView(context, models, log, (text) => panel.explain(text));
  const lensHint = new LogitLensHint(models, log);
  context.subscriptions.push(log, models, analyses, compareWith, panel, hover, heatmap, fineTune, lensHint);

  const command = (id: string, what: string, run: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await run(...args);
      } catch (err) {
        log.report(what, err);
      }
    }));

  /** The selection, or the text before the cursor, explained in the panel (opened on `tab`). */
  const explainAtCursor = async (tab?: PanelTab) => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new UserError('Open a text editor, then select text or place the cursor after the text to explain.');
    const doc = editor.document;
    const target = explainTarget(readerOf(doc), doc.offsetAt(editor.selection.start), doc.offsetAt(editor.selection.end), explainChars(models));
    if ('problem' in target) throw new UserError(target.problem);
    await panel.explain(target.text, { uri: doc.uri.toString(), offset: target.start + target.text.length, cut: target.cut }, tab);
  };
  command('tokenLens.explainNextToken', 'Explain Next Token', () => explainAtCursor());
  // Attribution of the top-1 next token at the cursor: the panel opens on its Attribution tab and runs it.
  command('tokenLens.whyThisToken', 'Why This Token?', () => explainAtCursor('attribution'));

  command(EXPLAIN_FROM_HERE, 'Explain from Here', async (args: ExplainFromHereArgs) => {
    if (typeof args?.uri !== 'string' || !Number.isInteger(args.offset) || args.offset < 0) throw new UserError('Explain from Here needs a document and an offset.');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(args.uri));
    const offset = doc.offsetAt(doc.positionAt(args.offset));
    const target = explainTarget(readerOf(doc), offset, offset, explainChars(models));
    if ('problem' in target) throw new UserError(target.problem);
    await panel.explain(target.text, { uri: args.uri, offset, cut: target.cut });
  });

  command('tokenLens.toggleLossHeatmap', 'Loss heatmap', () => heatmap.toggle());

  command('tokenLens.selectModel', 'Select Model', async () => {
    const ref = await models.select();
    // Whatever shows model output follows the new model at once.
    if (ref && (heatmap.isEnabled || panel.state)) await models.session();
  });

  // Also callable with { from, tokenizer? } (automation and tests skip the pickers).
  command('tokenLens.importCheckpoint', 'Import a checkpoint', async (request?: ImportRequest) => {
    const ref = await importCheckpointFlow(context, log, request?.from ? request : undefined);
    if (!ref) return undefined;
    await useModel(ref);
    if (heatmap.isEnabled || panel.state) await models.session();
    return ref;
  });

  command('tokenLens.loadModel', 'Load Model', async () => {
    await models.session();
  });

  command('tokenLens.setRemoteApiKey', 'Set Remote API Key', async () => {
    const key = await vscode.window.showInputBox({ title: 'API key of tokenLens.remote.url', password: true, ignoreFocusOut: true,
      prompt: 'Kept in VS Code\'s secret storage. Leave empty to remove it.' });
    if (key === undefined) return;
    if (key) await context.secrets.store(REMOTE_API_KEY_SECRET, key); else await context.secrets.delete(REMOTE_API_KEY_SECRET);
    void vscode.window.showInformationMessage(key ? 'Token Lens: the remote API key is stored.' : 'Token Lens: the remote API key is removed.');
  });
  command('tokenLens.showLog', 'Show Log', () => log.channel.show());

  // Also callable with a CompareTarget ({ ref, dtype, label, quantize? }): automation and tests skip the picker.
  command('tokenLens.compareWith', 'Compare with…', async (target?: CompareTarget) => {
    const chosen = target?.ref ? target : await compareWith.pick();
    if (!chosen) return;
    compareWith.use(chosen);
    await compareWith.session();
    await panel.showComparison();
  });

  command('tokenLens.fineTuneOnFile', 'Fine-tune on This File', (uri?: vscode.Uri) => fineTune.useFile(uri));

  const modelFolders = () => modelFoldersInUse(context, models.configuredRef(), (models.ready as { folder?: string } | undefined)?.folder);
  command('tokenLens.cleanUpStorage', 'Clean Up Storage', () => cleanUpStorage(context, log, { modelFolders: modelFolders(), fineTune: fineTune.state }));
  context.subscriptions.push(scheduleEviction(context, log, modelFolders));
  // The walkthrough's steps, on the built-in model.
  command(OPEN_SAMPLE, 'Open the sample story', () => openSample());
  command(EXPLAIN_SAMPLE, 'Explain the sample story', async () => {
    const editor = await openSample();
    await panel.explain(DEFAULT_PROBE.prompt, { uri: editor.document.uri.toString(), offset: DEFAULT_PROBE.prompt.length });
  });
  command(ZOO_FINE_TUNE, 'Zoo fine-tune', () => {
    if (!models.builtin) throw new UserError('This build of Token Lens has no built-in model.');
    // The run shows its progress in the view; the command returns once it has started.
    void fineTune.startOn(zooFile(context.globalStorageUri), models.builtin, zooSettings())
      .catch((err) => log.report('Zoo fine-tune', err));
  });

  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms`);
  return {
    lastAnalysis: () => panel.lastAnalysis,
    panelState: () => panel.state,
    panelPosted: (type) => panel.posted(type),
    heatmapDecorationCount: () => heatmap.count,
    heatmapLegend: () => heatmap.legendShown,
    heatmapCoverage: () => heatmap.coverage,
    heatmapFailures: () => heatmap.failureCount,
    hoverText: async (uri, line, character) => {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
      const found = await hover.provideHover(doc, new vscode.Position(line, character), new vscode.CancellationTokenSource().token);
      return found?.contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
    },
    modelState: () => models.state,
    lastMessage: () => log.lastShown,
    messagesShown: () => log.shownCount,
    runtimeStats: () => {
      const s = models.ready;
      return s && { forwards: (s as { forwardCount?: number }).forwardCount ?? 0, retainedBytes: s.memory.usedBytes, budgetBytes: s.memory.budgetBytes };
    },
    logitLensHint: () => lensHint.shown,
    panelMessage: (message) => panel.receive(message),
    fineTuneState: () => fineTune.state,
    fineTuneMessage: (message) => fineTune.receive(message),
    activationMs,
  };
}

export function deactivate(): void {}

/** Reads a range of a document without copying the rest of it. */
function readerOf(doc: vscode.TextDocument): TextReader {
  return (start, end) => doc.getText(new vscode.Range(doc.positionAt(start), doc.positionAt(end)));
}

/** Before a model is loaded, a window this large is assumed. */
const ASSUMED_CONTEXT = 8192;

/** How much text Explain takes: what the model's context window can use. */
function explainChars(models: Models): number {
  return (models.ready?.info.contextLength ?? ASSUMED_CONTEXT) * CHARS_PER_CONTEXT_TOKEN;
}
