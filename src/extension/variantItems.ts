// The rows of the variant picker (Select Model… after a Hub model): one per precision, the file that
// `tokenLens.dtype` would pick for it and its download size. Plain data, no VS Code: tested on its own.
import type { HubVariant } from '../core/runtime/hubVariants';

export interface VariantItem {
  label: string;
  description: string;
  detail: string;
  /** The `tokenLens.dtype` value this row sets. */
  dtype: string;
}

const MEANING: Record<string, string> = {
  fp32: 'full precision',
  fp16: 'float16 weights',
  q8: '8-bit weights (MatMulInteger)',
  q4: '4-bit weights in blocks',
};

/** No rows when there is nothing to choose (one precision or none). `current` gets the check mark. */
export function variantItems(variants: HubVariant[], current: string): VariantItem[] {
  const first = variants.filter((v, i) => variants.findIndex((w) => w.precision === v.precision) === i);
  if (first.length <= 1) return [];
  const mark = (dtype: string) => (current === dtype ? '$(check) ' : '');
  return [
    { label: `${mark('auto')}auto`, description: `${first[0].file}, ${formatBytes(first[0].bytes)}`, detail: 'Full precision when there is one', dtype: 'auto' },
    ...first.map((v) => ({ label: `${mark(v.precision)}${v.precision}`, description: `${v.file}, ${formatBytes(v.bytes)}`, detail: MEANING[v.precision], dtype: v.precision })),
  ];
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}
