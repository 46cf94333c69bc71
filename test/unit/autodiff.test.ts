// Every op's gradient against central finite differences (float64).
import { test } from 'node:test';
import { gradcheck } from './autodiff_gradcheck';
import { add, sub, mul, div, scale, shift, exp, log, tanh, rsqrt, sum, mean, matmul, matmulT } from '../../src/core/trainer/ops';
import { reshape, transpose, slice, split, concat, expand } from '../../src/core/trainer/shape';
import { gather, layerNorm, rmsNorm, gelu, geluExact, silu, softmax, crossEntropy } from '../../src/core/trainer/nn';

const positive = (_: string, r: { next(): number }) => 0.5 + r.next();

test('Add/Sub/Mul/Div broadcast and reduce their gradients back', async () => {
  await gradcheck({ params: { a: [2, 3, 4], b: [3, 1], c: [4] },
    build: (_, p) => add(mul(p.a, p.b), sub(p.c, p.a)) });
  await gradcheck({ params: { a: [2, 3, 4], b: [1, 4] }, init: positive, build: (_, p) => div(p.a, p.b) });
  await gradcheck({ params: { a: [3, 4] }, build: (_, p) => shift(scale(p.a, -1.5), 2) });
  await gradcheck({ params: { a: [3] }, build: (_, p) => add(add(p.a, p.a), mul(p.a, p.a)) });   // one value used twice by one op
});

test('Exp, Log, Tanh, Rsqrt', async () => {
  await gradcheck({ params: { a: [5] }, init: positive, build: (_, p) => add(add(exp(p.a), log(p.a)), add(tanh(p.a), rsqrt(p.a))) });
});

test('ReduceSum / ReduceMean', async () => {
  await gradcheck({ params: { a: [2, 3, 4] }, build: (_, p) => add(sum(p.a, [1]), mean(p.a, [-1, 1], true)) });
  await gradcheck({ params: { a: [2, 3, 4] }, build: (_, p) => sum(p.a, [0, 2], false) });
});

test('MatMul: batched, broadcasting a 2-D weight, batched on both sides, and a @ b^T', async () => {
  await gradcheck({ params: { x: [2, 3, 4], w: [4, 5] }, build: (_, p) => matmul(p.x, p.w) });
  await gradcheck({ params: { x: [2, 2, 3, 4], y: [2, 1, 4, 3] }, build: (_, p) => matmul(p.x, p.y) });
  await gradcheck({ params: { x: [3, 4], w: [6, 4] }, build: (_, p) => matmulT(p.x, p.w) });
});

test('Reshape, Transpose, Slice, Split, Concat', async () => {
  await gradcheck({ params: { x: [2, 3, 4] }, build: (_, p) => transpose(reshape(p.x, [6, -1]), [1, 0]) });
  await gradcheck({ params: { x: [2, 6] }, build: (_, p) => {
    const [a, b, c] = split(p.x, 1, 3);
    return concat([mul(a, b), slice(p.x, 1, 1, 4), c], 1);
  } });
  await gradcheck({ params: { x: [6, 2] }, build: (_, p) => {
    const [a, , c] = split(p.x, 0, 3);   // an unused part gets a zero gradient
    return mul(a, c);
  } });
  await gradcheck({ params: { x: [2, 5] }, build: (_, p) => {
    const [a, b] = split(p.x, 1, [2, 3]);   // unequal parts
    return concat([b, mul(a, a), reshape(p.x, [0, 5, 1])].map((v) => reshape(v, [2, -1])), 1);
  } });
});

test('Expand sums its gradient back over the broadcast dimensions', async () => {
  await gradcheck({ params: { x: [2, 1, 3] }, build: (_, p) => mul(expand(p.x, [1, 4, 1]), expand(p.x, [2, 4, 3])) });
});

test('Gather (embedding) accumulates repeated ids', async () => {
  await gradcheck({ params: { wte: [5, 3] }, ints: { ids: { shape: [2, 3], data: [0, 4, 4, 1, 0, 4] } },
    build: (_, p, i) => gather(p.wte, i.ids) });
});

test('LayerNorm and RMSNorm', async () => {
  await gradcheck({ params: { x: [2, 3, 5], w: [5], b: [5] }, build: (_, p) => layerNorm(p.x, p.w, p.b, 1e-5) });
  await gradcheck({ params: { x: [2, 3, 5], w: [5] }, build: (_, p) => layerNorm(p.x, p.w, null, 1e-5) });
  await gradcheck({ params: { x: [4, 5], w: [5] }, build: (_, p) => rmsNorm(p.x, p.w, 1e-5) });
});

test('GELU (tanh and exact), SiLU, Softmax', async () => {
  await gradcheck({ params: { x: [3, 7] }, init: (_, r) => 6 * r.next() - 3, build: (_, p) => gelu(p.x) });
  await gradcheck({ params: { x: [3, 7] }, init: (_, r) => 12 * r.next() - 6, build: (_, p) => geluExact(p.x) });
  await gradcheck({ params: { x: [3, 7] }, init: (_, r) => 6 * r.next() - 3, build: (_, p) => silu(p.x) });
  await gradcheck({ params: { x: [2, 3, 4] }, build: (_, p) => softmax(p.x) });
});

test('softmax cross-entropy', async () => {
  await gradcheck({ params: { logits: [4, 6] }, ints: { y: { shape: [4], data: [0, 5, 2, 2] } },
    build: (_, p, i) => crossEntropy(p.logits, i.y) });
});
