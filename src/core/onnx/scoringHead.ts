// The scoring head: a few nodes appended to a decoder graph so that onnxruntime's vectorised
// LogSoftmax, not JavaScript, computes what every analysis needs for every position:
//   token_lens.target_logprob [B, T-1]  log p(token t+1 | tokens <= t)  (minus the loss)
//   token_lens.logsumexp      [B, T]    log of the softmax denominator of each position
//   token_lens.above          [B, T-1]  how many logits beat the actual next token's (its rank - 1)
//   token_lens.top_logits     [B, T, K] each position's K = min(100, V) best logits, best first
//   token_lens.top_ids        [B, T, K] and their ids (ties: lower id first, as ONNX's TopK orders them)
// so that an analysis that needs only scores, ranks and candidates never moves [T, V] logits out of
// onnxruntime (206 MB at GPT-2 size and 1,024 tokens) nor ranks them in JavaScript.
// It is appended to exports of any opset from 11 up, so it speaks the file's opset: Squeeze and Unsqueeze
// take their axes as an attribute before opset 13 and as an input from 13 on.
import { onnx } from 'onnx-proto';
import { FLOAT, INT32, tensorProto } from './builder';

export const TARGET_LOGPROB = 'token_lens.target_logprob';
export const LOGSUMEXP = 'token_lens.logsumexp';

export const ABOVE = 'token_lens.above';
export const TOP_LOGITS = 'token_lens.top_logits';
export const TOP_IDS = 'token_lens.top_ids';
/** Candidates the head keeps per position (topRows.ts's TOP_KEPT). */
const TOP_K = 100;

export function hasScoringHead(outputNames: readonly string[]): boolean {
  return outputNames.includes(TARGET_LOGPROB) && outputNames.includes(LOGSUMEXP);
}

/** Whether the head also ranks and picks the best candidates (files written before it did not). */
export function hasRankingHead(outputNames: readonly string[]): boolean {
  return [ABOVE, TOP_LOGITS, TOP_IDS].every((n) => outputNames.includes(n));
}

/** The model's version of the default ONNX operator set. */
export function defaultOpset(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  return Number(entry?.version ?? 0);
}

/** Appends the scoring head to a model that has `input_ids` and `logits`. Returns false if it cannot. */
export function addScoringHead(model: onnx.IModelProto): boolean {
  const graph = model.graph!;
  const names = new Set([...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name));
  if (!names.has('input_ids') || !names.has('logits')) return false;
  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (hasScoringHead(outputs)) {
    // A head that sums its ranks as int32 (slower) is older too.
    const int32Sum = graph.node!.some((n) => n.output?.includes('token_lens.scoring.beaten_int'));
    if (hasRankingHead(outputs) && !int32Sum) return true;
    // An older head: replaced whole.
    graph.node = graph.node!.filter((n) => !n.name?.startsWith('token_lens.scoring.'));
    graph.initializer = graph.initializer!.filter((t) => !t.name?.startsWith('token_lens.scoring.'));
    graph.output = graph.output!.filter((o) => !o.name?.startsWith('token_lens.'));
  }
  // GatherElements arrived in opset 11; older files are scored in JavaScript instead (slower, same numbers).
  if (defaultOpset(model) < 11) return false;
  const p = 'token_lens.scoring';
  const ints = (name: string, values: number[]) => {
    graph.initializer!.push(tensorProto(`${p}.${name}`, BigInt64Array.from(values.map(BigInt)), [values.length]));
    return `${p}.${name}`;
  };
  const zero = ints('zero', [0]);
  const one = ints('one', [1]);
  const minusOne = ints('minus_one', [-1]);
  const end = ints('end', [2 ** 53 - 1]);
  const axis1 = ints('axis1', [1]);
  const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []) => {
    graph.node!.push({ opType, input, output: [output], name: `${p}.${output}`, attribute });
    return output;
  };
  const v = (name: string) => `${p}.${name}`;
  const axesAsInput = defaultOpset(model) >= 13;
  const axis2 = axesAsInput ? ints('axis2', [2]) : '';
  const squeezeOp = (opType: 'Squeeze' | 'Unsqueeze', data: string, output: string) => axesAsInput
    ? node(opType, [data, axis2], output)
    : node(opType, [data], output, [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] }]);
  // A float16 export has float16 logits: the head works in float32, as its outputs are declared.
  const logitsType = (graph.output ?? []).find((o) => o.name === 'logits')?.type?.tensorType?.elemType;
  const logits = logitsType === FLOAT ? 'logits'
    : node('Cast', ['logits'], v('logits_float'), [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }]);
  const logp = node('LogSoftmax', [logits], v('logp'), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }]);
  // Position t is scored by token t+1; the last position gets a padding index. Gathering from all of logp
  // avoids copying a [B, T-1, V] slice of it, and logp has one reader only, so onnxruntime can free it early.
  const next = node('Slice', ['input_ids', one, end, axis1], v('next'));
  const pad = node('Slice', ['input_ids', zero, one, axis1], v('pad'));
  const targets = node('Concat', [next, pad], v('targets'), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
  const index = squeezeOp('Unsqueeze', targets, v('index'));
  const gather = (data: string, out: string) =>
    node('GatherElements', [data, index], v(out), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 2 }]);
  const logprob = squeezeOp('Squeeze', gather(logp, 'picked_logp'), v('logprob'));
  const logit = squeezeOp('Squeeze', gather(logits, 'picked_logit'), v('logit'));
  node('Slice', [logprob, zero, minusOne, axis1], TARGET_LOGPROB);
  // log Z = logit - log p, at any index: here the gathered one.
  node('Sub', [logit, logprob], LOGSUMEXP);
  const out = (name: string, dims: string[], elemType = FLOAT) => graph.output!.push({
    name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  });
  out(TARGET_LOGPROB, ['batch', 'targets']);
  out(LOGSUMEXP, ['batch', 'sequence_length']);
  // Ranks and candidates: Min over int64 (for K <= V) arrived in opset 12; older files rank in JavaScript.
  if (defaultOpset(model) < 12) return true;
  const attr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  // above = sum over the vocabulary of [logit_v > logit_target]: one comparison per logit, no sort. Summed
  // as float (exact below 2^24), which onnxruntime vectorises: an int32 sum took twice as long.
  const beaten = node('Cast', [node('Greater', [logits, squeezeOp('Unsqueeze', logit, v('picked_column'))], v('beaten'))],
    v('beaten_float'), [attr('to', FLOAT)]);
  const aboveAll = axesAsInput
    ? node('ReduceSum', [beaten, axis2], v('above_all'), [attr('keepdims', 0)])
    : node('ReduceSum', [beaten], v('above_all'), [attr('keepdims', 0), { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] }]);
  node('Cast', [node('Slice', [aboveAll, zero, minusOne, axis1], v('above_float'))], ABOVE, [attr('to', INT32)]);
  const vocab = node('Shape', [logits], v('logits_shape'));
  const k = node('Min', [node('Slice', [vocab, ints('two', [2]), ints('three', [3]), zero], v('vocab')), ints('k_most', [TOP_K])], v('top_k'));
  graph.node!.push({ opType: 'TopK', input: [logits, k], output: [TOP_LOGITS, v('top_ids64')], name: `${p}.top`,
    attribute: [attr('axis', -1), attr('largest', 1), attr('sorted', 1)] });
  node('Cast', [v('top_ids64')], TOP_IDS, [attr('to', INT32)]);
  out(ABOVE, ['batch', 'targets'], INT32);
  out(TOP_LOGITS, ['batch', 'sequence_length', 'top_k']);
  out(TOP_IDS, ['batch', 'sequence_length', 'top_k'], INT32);
  return true;
}
