// Work that reruns on its own (the heatmap, on every scroll and edit) would raise the same popup again and
// again while its cause lasts. Each cause is shown once; repeats go to the log only.

/** Errors differing only in numbers (offsets, sizes, indices) have one cause. */
export const causeOf = (err: unknown): string =>
  (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).replace(/\d+/g, '#');

export class ReportOnce {
  private readonly seen = new Set<string>();
  /** Failures seen since the last reset, shown or not. */
  failures = 0;

  constructor(private readonly show: (err: unknown) => void, private readonly logRepeat: (err: unknown) => void) {}

  /** Shows the error if its cause is new; returns whether it was shown. */
  report(err: unknown): boolean {
    this.failures++;
    const cause = causeOf(err);
    if (this.seen.has(cause)) {
      this.logRepeat(err);
      return false;
    }
    this.seen.add(cause);
    this.show(err);
    return true;
  }

  /** After the user starts over (turns the feature on again), a cause is worth showing again. */
  reset(): void {
    this.seen.clear();
    this.failures = 0;
  }
}
