import * as vscode from 'vscode';
import type { DocumentAnalyses, DocumentAnalysis } from './documentAnalyses';
import { BUCKETS, bucketOf, type HeatmapStyle } from './heatmapBuckets';
import { legendMarkdown, legendText } from './heatmapLegend';
import type { Log } from './log';
import type { Models } from './models';
import { ReportOnce } from './reportOnce';

const DEBOUNCE_MS = 250;
/** A visible range may need more than one analysis window when the context is short. */
const MAX_WINDOWS_PER_RANGE = 4;

/** Colours each visible token by how the model scored it; a status-bar item is its legend. */
export class LossHeatmap implements vscode.Disposable {
  private enabled = false;
  private timer?: NodeJS.Timeout;
  private generation = 0;
  private decorationCount = 0;
  private readonly types = new Map<HeatmapStyle, vscode.TextEditorDecorationType[]>();
  private readonly legend = vscode.window.createStatusBarItem('tokenLens.heatmap', vscode.StatusBarAlignment.Right, 99);
  private readonly disposables: vscode.Disposable[] = [this.legend];
  private readonly failures = new ReportOnce((err) => this.log.report('Loss heatmap', err),
    (err) => this.log.channel.warn(`Loss heatmap (failed again, shown once): ${err instanceof Error ? err.message : String(err)}`));

  constructor(private readonly models: Models, private readonly analyses: DocumentAnalyses, private readonly log: Log) {
    this.legend.name = 'Token Lens Heatmap Legend';
    this.legend.command = 'tokenLens.toggleLossHeatmap';
    const schedule = () => this.schedule();
    this.disposables.push(
      vscode.window.onDidChangeVisibleTextEditors(schedule),
      vscode.window.onDidChangeTextEditorVisibleRanges(schedule),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (vscode.window.visibleTextEditors.some((ed) => ed.document === e.document)) schedule();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tokenLens.heatmap.style')) {
          this.clear();
          schedule();
        }
      }),
      models.onDidChange((session) => (session ? schedule() : this.clear())),
    );
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** How many updates failed since the heatmap was turned on (each cause is shown once). */
  get failureCount(): number {
    return this.failures.failures;
  }

  /** How many token ranges the last update decorated (0 when off). */
  get count(): number {
    return this.decorationCount;
  }

  async toggle(): Promise<void> {
    if (this.enabled) {
      this.enabled = false;
      this.clear();
      this.legend.hide();
      return;
    }
    this.enabled = true;
    this.failures.reset();
    try {
      await this.models.session();
    } catch (err) {
      this.enabled = false;
      throw err;
    }
    await this.update().catch((err) => this.failures.report(err));
  }

  private schedule(): void {
    if (!this.enabled) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update().catch((err) => this.failures.report(err)), DEBOUNCE_MS);
  }

  /** Decorates every visible editor now; answers from a newer update supersede this one. */
  async update(): Promise<void> {
    clearTimeout(this.timer);
    if (!this.enabled || !this.models.ready) return;
    const generation = ++this.generation;
    const style = this.style();
    const types = this.typesFor(style);
    let count = 0;
    let lossSum = 0;
    let lossCount = 0;
    for (const editor of vscode.window.visibleTextEditors) {
      const doc = editor.document;
      const version = doc.version;
      const ranges: vscode.Range[][] = types.map(() => []);
      for (const visible of editor.visibleRanges) {
        for (const found of await this.windowsOver(doc, doc.offsetAt(visible.start), doc.offsetAt(visible.end))) {
          for (const t of found.analysis.tokens) {
            const start = found.base + t.start;
            const end = found.base + t.end;
            const b = t.special || end <= start ? -1 : bucketOf(style, t, found.analysis.vocabSize);
            if (b < 0 || !visible.intersection(new vscode.Range(doc.positionAt(start), doc.positionAt(end)))) continue;
            ranges[b].push(new vscode.Range(doc.positionAt(start), doc.positionAt(end)));
            lossSum += t.loss ?? 0;
            lossCount++;
          }
        }
      }
      if (generation !== this.generation || doc.version !== version || !this.enabled) return;
      types.forEach((type, b) => editor.setDecorations(type, ranges[b]));
      for (const [other, otherTypes] of this.types) if (other !== style) otherTypes.forEach((t) => editor.setDecorations(t, []));
      count += ranges.reduce((n, r) => n + r.length, 0);
    }
    this.decorationCount = count;
    this.renderLegend(style, lossCount ? lossSum / lossCount : undefined);
  }

  private async windowsOver(doc: vscode.TextDocument, start: number, end: number): Promise<DocumentAnalysis[]> {
    const found: DocumentAnalysis[] = [];
    let at = start;
    for (let i = 0; i < MAX_WINDOWS_PER_RANGE && at <= end; i++) {
      const w = await this.analyses.covering(doc, at);
      if (!w) break;
      found.push(w);
      const next = w.base + w.analysis.window.end;
      if (next <= at) break;
      at = next + 1;
    }
    return found;
  }

  private style(): HeatmapStyle {
    return vscode.workspace.getConfiguration('tokenLens').get<HeatmapStyle>('heatmap.style', 'rank') === 'surprisal' ? 'surprisal' : 'rank';
  }

  /** Decoration types are made once per style and reused across updates. */
  private typesFor(style: HeatmapStyle): vscode.TextEditorDecorationType[] {
    let types = this.types.get(style);
    if (!types) {
      types = BUCKETS[style].map((b) => vscode.window.createTextEditorDecorationType({
        backgroundColor: new vscode.ThemeColor(`tokenLens.heatmap.${b.id}Background`),
        borderRadius: '2px',
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      }));
      this.types.set(style, types);
    }
    return types;
  }

  private renderLegend(style: HeatmapStyle, meanLoss: number | undefined): void {
    const legend = { style, vocabSize: this.models.ready?.info.vocabSize ?? 0, meanLoss };
    this.legend.text = legendText(legend);
    const tooltip = new vscode.MarkdownString(legendMarkdown(legend));
    tooltip.supportHtml = true;
    this.legend.tooltip = tooltip;
    this.legend.show();
  }

  /** The legend as shown: its text and its tooltip's Markdown (for tests). */
  get legendShown(): { text: string; tooltip: string } | undefined {
    if (!this.enabled || !this.legend.text) return undefined;
    const t = this.legend.tooltip;
    return { text: this.legend.text, tooltip: typeof t === 'string' ? t : t?.value ?? '' };
  }

  private clear(): void {
    this.generation++;
    for (const editor of vscode.window.visibleTextEditors) {
      for (const types of this.types.values()) types.forEach((t) => editor.setDecorations(t, []));
    }
    this.decorationCount = 0;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const types of this.types.values()) types.forEach((t) => t.dispose());
    for (const d of this.disposables) d.dispose();
  }
}
