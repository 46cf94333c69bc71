// Turns one layer of runtime attention into the messages the webview receives.
import type { AttentionLayer } from '../core/runtime/attentionLayer';
import type { HostMessage } from './messages';

export { GRID_MAX, downsample } from '../core/runtime/attentionLayer';

/**
 * One head's matrix as its own Float32Array: VS Code's postMessage sends a typed array as binary (its whole
 * buffer, hence the copy of the head alone) where a T x T array of numbers would be turned into text on the
 * extension host's thread (about 50 ms at T = 512).
 */
export function attentionMessage(layer: AttentionLayer, index: number, head: number): HostMessage<'attention'> {
  const weights = layer.heads[head];
  return { type: 'attention', layer: index, head, size: Math.round(Math.sqrt(weights.length)), weights: weights.slice() };
}

export function attentionGridMessage(layer: AttentionLayer, index: number): HostMessage<'attentionGrid'> {
  return { type: 'attentionGrid', layer: index, size: layer.grid.size, heads: layer.grid.heads };
}
