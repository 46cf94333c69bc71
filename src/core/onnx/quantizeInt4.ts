// q4: block-wise 4-bit weights in com.microsoft MatMulNBits, as onnxruntime's MatMul4BitsQuantizer writes
// them (symmetric, Optimum's model_q4.onnx). Each output column n of W [K, N] is cut into blocks of 32
// input rows; each block b keeps one float scale and 32 four-bit codes:
//   s = m / −8, m the block's value of largest magnitude (sign kept), so m itself is code 0 exactly;
//   q = clamp(round(w / s) + 8, 0, 15),   w ≈ (q − 8) · s
// Sixteen levels per block: the rounding error is up to s/2, far coarser than q8's. Activations stay float.
// Layout: B [N, blocks, 16] uint8 with element 2j in the low nibble of byte j and 2j+1 in the high one;
// scales [N · blocks]; a K that is not a multiple of 32 is padded with zeros (code 8).
import { onnx } from 'onnx-proto';
import { FLOAT } from './builder';
import { MS_DOMAIN, allGraphs, dropUnread, importMicrosoftOps, intAttr, node, replaceNodes, storedWeight } from './weightMatMuls';

export const Q4_BLOCK = 32;

export interface Int4Blocks {
  /** [N, blocks, block/2] packed codes. */
  packed: Uint8Array;
  /** [N, blocks] */
  scales: Float32Array;
  blocks: number;
}

/** Quantizes W [K, N] (row-major) column by column. */
export function quantizeBlocks4(values: Float32Array, K: number, N: number, block = Q4_BLOCK): Int4Blocks {
  const blocks = Math.ceil(K / block);
  const packed = new Uint8Array(N * blocks * (block / 2));
  const scales = new Float32Array(N * blocks);
  const codes = new Uint8Array(block);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      let m = 0;
      for (let k = b * block; k < Math.min(K, (b + 1) * block); k++) {
        const v = values[k * N + n];
        if (Math.abs(v) > Math.abs(m)) m = v;
      }
      const scale = Math.fround(m / -8);
      const inverse = scale === 0 ? 0 : 1 / scale;
      for (let j = 0; j < block; j++) {
        const k = b * block + j;
        const v = k < K ? values[k * N + n] : 0;
        // + 8.5 then truncate: round half up, as MLAS does.
        codes[j] = Math.min(15, Math.max(0, Math.floor(v * inverse + 8.5)));
      }
      const at = (n * blocks + b) * (block / 2);
      for (let j = 0; j < block / 2; j++) packed[at + j] = codes[2 * j] | (codes[2 * j + 1] << 4);
      scales[n * blocks + b] = scale;
    }
  }
  return { packed, scales, blocks };
}

/** Rewrites every MatMul by a stored weight into MatMulNBits, in place; returns how many. */
export function quantizeInt4(model: onnx.IModelProto, block = Q4_BLOCK): number {
  importMicrosoftOps(model);
  let count = 0;
  for (const graph of allGraphs(model.graph!)) {
    const done = new Map<string, { q: string; scales: string; K: number; N: number }>();
    count += replaceNodes(graph, (n) => {
      if (n.opType !== 'MatMul' || (n.domain ?? '') !== '') return undefined;
      const [a, b] = n.input!;
      if (!done.has(b)) {
        const w = storedWeight(graph, b);
        if (!w) return undefined;
        const { packed, scales, blocks } = quantizeBlocks4(w.values, w.K, w.N, block);
        const names = { q: `${b}_Q4`, scales: `${b}_scales`, K: w.K, N: w.N };
        graph.initializer!.push(
          { name: names.q, dims: [w.N, blocks, block / 2], dataType: onnx.TensorProto.DataType.UINT8, rawData: packed },
          { name: names.scales, dims: [w.N * blocks], dataType: FLOAT, rawData: new Uint8Array(scales.buffer) },
        );
        done.set(b, names);
      }
      const w = done.get(b)!;
      return [node('MatMulNBits', [a, w.q, w.scales], n.output!, [
        intAttr('K', w.K), intAttr('N', w.N), intAttr('bits', 4), intAttr('block_size', block),
      ], MS_DOMAIN)];
    });
    dropUnread(graph, done.keys());
  }
  return count;
}
