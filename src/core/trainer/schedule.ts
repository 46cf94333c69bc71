// Learning rate: linear warm-up, then cosine decay to minLr (as nanoGPT's get_lr).
export interface Schedule { lr: number; warmup: number; total: number; minLr: number }

export function lrAt(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / (s.warmup + 1);
  if (step >= s.total) return s.minLr;
  const ratio = (step - s.warmup) / Math.max(1, s.total - s.warmup);
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (s.lr - s.minLr);
}
