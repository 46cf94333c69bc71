// explain --json --attention: the JSON is written as a stream. Built as one string, every layer and head at
// 1,024 GPT-2 tokens is over a gigabyte of text, past the longest string V8 makes ("Invalid string length").
// Layers are fetched a few at a time (one forward pass per group, each group within GROUP_BYTES) and written
// a head at a time, so memory stays bounded at any context the model accepts.
import type { Writable } from 'node:stream';
import type { Analysis } from '../core/runtime/analysis';
import { UsageError } from './args';

/** Attention fetched per forward pass: a few layers of GPT-2 small at 1,024 tokens (50 MB each). */
const GROUP_BYTES = 128 * 2 ** 20;
const PLACEHOLDER = '\u0000attention\u0000';

/** The ranges `--attention-layers` names: "3", "0,5", "2-4" (0-based), checked before the model loads. */
export function layerRanges(spec: string): [number, number][] {
  return spec.split(',').map((part) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--attention-layers takes layer numbers and ranges like "0,3-5", got "${spec}"`);
    const from = Number(m[1]), to = Number(m[2] ?? m[1]);
    if (from > to) throw new UsageError(`--attention-layers: the range ${part.trim()} runs backwards`);
    return [from, to];
  });
}

/** The layers `--attention-layers` names, each once, in the order named; every layer when absent. */
export function attentionLayersOption(spec: string | undefined, layers: number): number[] {
  if (spec === undefined) return Array.from({ length: layers }, (_, l) => l);
  const chosen: number[] = [];
  for (const [from, to] of layerRanges(spec)) {
    if (to >= layers) throw new UsageError(`--attention-layers: layer ${to} is outside 0..${layers - 1} (the model has ${layers} layers)`);
    for (let l = from; l <= to; l++) if (!chosen.includes(l)) chosen.push(l);
  }
  return chosen;
}

/**
 * Writes `fields` as one line of JSON whose `attention` (where `fields` has that key, or last) is
 * `{"layers", "heads", "layerIndices", "weights"}`, weights[i][head][query][key] being layer layerIndices[i].
 */
export async function writeJsonWithAttention(out: Writable, fields: Record<string, unknown>, a: Analysis, layers: number[]): Promise<void> {
  const att = a.attention!;
  const text = JSON.stringify({ ...fields, attention: PLACEHOLDER });
  const at = text.indexOf(JSON.stringify(PLACEHOLDER));
  await write(out, `${text.slice(0, at)}{"layers":${att.layers},"heads":${att.heads},"layerIndices":${JSON.stringify(layers)},"weights":[`);
  const T = att.size;
  const perGroup = Math.max(1, Math.floor(GROUP_BYTES / (att.heads * T * T * 4)));
  for (let g = 0; g < layers.length; g += perGroup) {
    const group = layers.slice(g, g + perGroup);
    const fetched = await a.attentionLayers(group);
    for (let i = 0; i < group.length; i++) {
      await write(out, `${g + i ? ',' : ''}[`);
      for (let h = 0; h < att.heads; h++) {
        const m = fetched[i].heads[h];
        const rows = Array.from({ length: T }, (_, q) => JSON.stringify(Array.from(m.subarray(q * T, (q + 1) * T))));
        await write(out, `${h ? ',' : ''}[${rows.join(',')}]`);
      }
      await write(out, ']');
    }
  }
  await write(out, `]}${text.slice(at + JSON.stringify(PLACEHOLDER).length)}\n`);
}

function write(out: Writable, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = out.write(chunk, (e) => { if (e) reject(e); });
    if (ok) resolve();
    else out.once('drain', resolve);
  });
}
