import * as vscode from 'vscode';
import type { DocumentAnalyses } from './documentAnalyses';
import { HOVER_COMMANDS, hoverMarkdown, noModelMarkdown } from './hoverText';
import { isAbort, type Log } from './log';
import type { Models } from './models';

export const EXPLAIN_FROM_HERE = 'tokenLens.explainFromHere';

/** Arguments of the "Explain from here" command link: explain the text of `uri` before `offset`. */
export interface ExplainFromHereArgs {
  uri: string;
  offset: number;
}

/** Next-token candidates and the actual token's score at the hovered position, from a cached analysis. */
export class TokenHover implements vscode.HoverProvider, vscode.Disposable {
  private readonly registration: vscode.Disposable;

  constructor(private readonly models: Models, private readonly analyses: DocumentAnalyses, private readonly log: Log) {
    // Text the user writes or reads, not output channels or diff views of internal schemes.
    const schemes = ['file', 'untitled', 'vscode-remote', 'vscode-vfs', 'vscode-notebook-cell'];
    this.registration = vscode.languages.registerHoverProvider(schemes.map((scheme) => ({ scheme })), this);
  }

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const config = vscode.workspace.getConfiguration('tokenLens', { uri: document.uri, languageId: document.languageId });
    if (!config.get<boolean>('hover.enabled', true)) return undefined;
    if (!this.models.ready) return this.noModelHint();
    const version = document.version;
    const offset = document.offsetAt(position);
    // The editor cancels a hover when the pointer moves on: the analysis is then dropped before it runs.
    const abort = new AbortController();
    const listener = token.onCancellationRequested(() => abort.abort());
    if (token.isCancellationRequested) abort.abort();
    let found;
    try {
      found = await this.analyses.covering(document, offset, offset, abort.signal);
    } catch (err) {
      if (!isAbort(err)) this.log.channel.warn(`Hover analysis failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    } finally {
      listener.dispose();
    }
    // Drop answers the user no longer waits for: cancelled, or computed for an older text.
    if (!found || token.isCancellationRequested || document.version !== version || found.version !== version) return undefined;
    const { analysis, base } = found;
    const i = analysis.tokenIndexAt(offset - base);
    const actual = analysis.tokens[i];
    // Special tokens have no prediction to show, but for a masked model's blank: what it fills in there.
    const blank = analysis.objective === 'masked' && actual?.id === this.models.ready.info.maskId;
    if (i < 0 || !actual || (actual.special && !blank)) return undefined;
    const k = config.get<number>('topK', 10);
    // The prediction that scored this token: made before it (causal), or with it masked (BERT).
    const row = analysis.rowScoring(i);
    const candidates = row === null ? [] : analysis.topK(row, k);
    const args: ExplainFromHereArgs = { uri: document.uri.toString(), offset: base + actual.start };
    const explainCommand = `command:${EXPLAIN_FROM_HERE}?${encodeURIComponent(JSON.stringify(args))}`;
    const markdown = new vscode.MarkdownString(hoverMarkdown({ candidates, actual, explainCommand, masked: analysis.objective === 'masked' }), true);
    markdown.isTrusted = { enabledCommands: [EXPLAIN_FROM_HERE] };
    const range = new vscode.Range(document.positionAt(base + actual.start), document.positionAt(base + actual.end));
    return new vscode.Hover(markdown, range);
  }

  /** Hovers never load a model (that may mean a download): they say how to load one instead. */
  private noModelHint(): vscode.Hover {
    const state = this.models.state === 'ready' ? 'none' : this.models.state;
    const markdown = new vscode.MarkdownString(noModelMarkdown(state, this.models.configuredRef()), true);
    markdown.isTrusted = { enabledCommands: HOVER_COMMANDS };
    return new vscode.Hover(markdown);
  }

  dispose(): void {
    this.registration.dispose();
  }
}
