// Every layer's attention of an analysis, [layer][head] -> T x T row-major, fetched through the public path the
// panel and the CLI use (layers are kept a few at a time and fetched again on demand).
import type { Analysis } from '../../src/core/runtime/analysis';

export async function attentionWeights(a: Analysis): Promise<Float32Array[][]> {
  if (!a.attention) throw new Error('the analysis has no attention');
  const layers = await a.attentionLayers(Array.from({ length: a.attention.layers }, (_, l) => l));
  return layers.map((l) => l.heads);
}
