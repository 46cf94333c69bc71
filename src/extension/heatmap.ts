import * as vscode from 'vscode';
import type { DocumentAnalyses, DocumentAnalysis } from './documentAnalyses';
import { CHARS_PER_CONTEXT_TOKEN } from './documentText';
import { BUCKETS, bucketOf, differenceBucket, type HeatmapStyle } from './heatmapBuckets';
import { alignOnOffsets } from '../core/lenses/compareMaths';
import type { CompareWith } from './compareWith';
import { UserError } from './log';
import { legendMarkdown, legendText } from './heatmapLegend';
import { isAbort, type Log } from './log';
import type { Models } from './models';
import { ReportOnce } from './reportOnce';

const DEBOUNCE_MS = 250;

/** What one update of an editor analysed, as document offsets (for tests: the model sees what is needed only). */
export interface HeatmapCoverage {
  uri: string;
  visible: { start: number; end: number }[];
  /** Each analysis used: the characters its window covers and how many tokens it ran the model on. */
  analysed: { start: number; end: number; tokens: number }[];
}

/** A visible range may need more than one analysis window when the context is short. */
const MAX_WINDOWS_PER_RANGE = 4;
/**
 * How far past the end of what it must cover a window reaches: enough to finish the token there. What lies
 * further is off screen (or scored by the window after it), so a larger margin would only shrink the text
 * each window covers, and a screen of short-context tokens would need more windows than it gets.
 */
const WINDOW_AHEAD_CHARS = CHARS_PER_CONTEXT_TOKEN;

/** Colours each visible token by how the model scored it; a status-bar item is its legend. */
export class LossHeatmap implements vscode.Disposable {
  private enabled = false;
  private timer?: NodeJS.Timeout;
  private generation = 0;
  /** The update in flight: any edit, scroll or new editor aborts it, so stale analyses never reach the model. */
  private inflight?: AbortController;
  private decorationCount = 0;
  private lastCoverage: HeatmapCoverage[] = [];
  private readonly types = new Map<HeatmapStyle, vscode.TextEditorDecorationType[]>();
  private readonly legend = vscode.window.createStatusBarItem('tokenLens.heatmap', vscode.StatusBarAlignment.Right, 99);
  private readonly disposables: vscode.Disposable[] = [this.legend];
  private readonly failures = new ReportOnce((err) => this.log.report('Loss heatmap', err),
    (err) => this.log.channel.warn(`Loss heatmap (failed again, shown once): ${err instanceof Error ? err.message : String(err)}`));

  constructor(private readonly models: Models, private readonly analyses: DocumentAnalyses, private readonly log: Log,
    private readonly compare?: CompareWith) {
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
      ...(compare ? [compare.onDidChange(() => { if (this.style() === 'difference') { this.clear(); schedule(); } })] : []),
    );
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** How many updates failed since the heatmap was turned on (each cause is shown once). */
  get failureCount(): number {
    return this.failures.failures;
  }

  /** What the last update analysed, per visible editor. */
  get coverage(): HeatmapCoverage[] {
    return this.lastCoverage;
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
      // The difference style needs model B: ask for it now rather than colour nothing.
      if (this.style() === 'difference' && this.compare && !this.compare.target) {
        const target = await this.compare.pick();
        if (!target) {
          this.enabled = false;
          return;
        }
        this.compare.use(target);
      }
    } catch (err) {
      this.enabled = false;
      throw err;
    }
    await this.update().catch((err) => this.failures.report(err));
  }

  private schedule(): void {
    if (!this.enabled) return;
    this.inflight?.abort();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update().catch((err) => {
      if (!isAbort(err)) this.failures.report(err);
    }), DEBOUNCE_MS);
  }

  /** Decorates every visible editor now; answers from a newer update supersede this one. */
  async update(): Promise<void> {
    clearTimeout(this.timer);
    if (!this.enabled || !this.models.ready) return;
    const generation = ++this.generation;
    this.inflight?.abort();
    const abort = (this.inflight = new AbortController());
    const style = this.style();
    const types = this.typesFor(style);
    let count = 0;
    let lossSum = 0;
    let lossCount = 0;
    const coverage: HeatmapCoverage[] = [];
    for (const editor of vscode.window.visibleTextEditors) {
      const doc = editor.document;
      const version = doc.version;
      const ranges: vscode.Range[][] = types.map(() => []);
      const covered: HeatmapCoverage = { uri: doc.uri.toString(), visible: [], analysed: [] };
      coverage.push(covered);
      // The whole file when it is not too long (every token scored once, in strided windows); else what is visible.
      const whole = await this.analyses.wholeFile(doc, abort.signal).catch((err) => {
        if (isAbort(err)) return undefined;
        throw err;
      });
      if (abort.signal.aborted) return;
      for (const visible of editor.visibleRanges) {
        covered.visible.push({ start: doc.offsetAt(visible.start), end: doc.offsetAt(visible.end) });
        const windows = whole ? [{ ...whole, until: Infinity }]
          : await this.windowsOver(doc, doc.offsetAt(visible.start), doc.offsetAt(visible.end), abort.signal);
        for (const found of windows) {
          const w = found.analysis.window;
          covered.analysed.push({ start: found.base + w.start, end: found.base + w.end, tokens: found.analysis.tokens.length });
          if (style === 'difference') {
            for (const d of await this.differences(found.analysis, abort.signal)) {
              const start = found.base + d.start;
              const end = found.base + d.end;
              const b = end > found.until ? -1 : differenceBucket(d.delta);
              if (b < 0 || !visible.intersection(new vscode.Range(doc.positionAt(start), doc.positionAt(end)))) continue;
              ranges[b].push(new vscode.Range(doc.positionAt(start), doc.positionAt(end)));
              lossSum += d.lossA;
              lossCount++;
            }
            continue;
          }
          for (const t of found.analysis.tokens) {
            const start = found.base + t.start;
            const end = found.base + t.end;
            const b = t.special || end <= start || end > found.until ? -1 : bucketOf(style, t, found.analysis.vocabSize);
            if (b < 0 || !visible.intersection(new vscode.Range(doc.positionAt(start), doc.positionAt(end)))) continue;
            ranges[b].push(new vscode.Range(doc.positionAt(start), doc.positionAt(end)));
            lossSum += t.loss ?? 0;
            lossCount++;
          }
        }
      }
      if (generation !== this.generation || abort.signal.aborted || doc.version !== version || !this.enabled) return;
      types.forEach((type, b) => editor.setDecorations(type, ranges[b]));
      for (const [other, otherTypes] of this.types) if (other !== style) otherTypes.forEach((t) => editor.setDecorations(t, []));
      count += ranges.reduce((n, r) => n + r.length, 0);
    }
    this.decorationCount = count;
    this.lastCoverage = coverage;
    this.renderLegend(style, lossCount ? lossSum / lossCount : undefined);
  }

  /**
   * Analyses covering the visible characters [start, end] and the context before them, and no more: on a
   * long file the model sees what is on screen plus what the context window holds before it. Windows go
   * backwards from the end; each next one ends where the previous one's analysed text begins, and its
   * tokens count `until` there (a later window scored what follows with more context).
   */
  private async windowsOver(doc: vscode.TextDocument, start: number, end: number,
    signal: AbortSignal): Promise<(DocumentAnalysis & { until: number })[]> {
    const found: (DocumentAnalysis & { until: number })[] = [];
    let to = end;
    let until = Infinity;
    for (let i = 0; i < MAX_WINDOWS_PER_RANGE && to >= start; i++) {
      // Aborted: a newer update is coming; the caller sees the signal and decorates nothing.
      const w = await this.analyses.covering(doc, start, to, signal, WINDOW_AHEAD_CHARS).catch((err) => {
        if (isAbort(err)) return undefined;
        throw err;
      });
      if (!w) break;
      found.push({ ...w, until });
      const first = w.base + w.analysis.window.start;
      if (first <= start || first > to) break;
      to = first - 1;
      until = first;
    }
    return found;
  }

  private style(): HeatmapStyle {
    const style = vscode.workspace.getConfiguration('tokenLens').get<HeatmapStyle>('heatmap.style', 'rank');
    return style === 'surprisal' || style === 'difference' ? style : 'rank';
  }

  /** B's loss minus A's over the text of one analysis, on the pieces where both tokenizations have boundaries. */
  private async differences(a: DocumentAnalysis['analysis'], signal: AbortSignal): Promise<{ start: number; end: number; delta: number; lossA: number }[]> {
    const other = this.compare?.session();
    if (!other) throw new UserError('The difference heatmap compares two models: choose the second with "Compare with…" in the Explain panel, or turn the heatmap off and on again.');
    const b = await (await other).analyze(a.text, { signal });
    return alignOnOffsets(a.tokens, b.tokens).filter((s) => s.lossA !== null && s.lossB !== null)
      .map((s) => ({ start: s.start, end: s.end, delta: s.lossB! - s.lossA!, lossA: s.lossA! }));
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
    this.inflight?.abort();
    for (const editor of vscode.window.visibleTextEditors) {
      for (const types of this.types.values()) types.forEach((t) => editor.setDecorations(t, []));
    }
    this.decorationCount = 0;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    for (const types of this.types.values()) types.forEach((t) => t.dispose());
    for (const d of this.disposables) d.dispose();
  }
}
