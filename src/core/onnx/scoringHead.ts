// The scoring head: a few nodes appended to a decoder graph so that onnxruntime's vectorised
// LogSoftmax, not JavaScript, computes what every analysis needs for every position:
//   token_lens.target_logprob [B, T-1]  log p(token t+1 | tokens <= t)  (minus the loss)
//   token_lens.logsumexp      [B, T]    log of the softmax denominator of each position
// JavaScript then only compares logits to rank the actual tokens.
import { onnx } from 'onnx-proto';
import { FLOAT, tensorProto } from './builder';

export const TARGET_LOGPROB = 'token_lens.target_logprob';
export const LOGSUMEXP = 'token_lens.logsumexp';

export function hasScoringHead(outputNames: readonly string[]): boolean {
  return outputNames.includes(TARGET_LOGPROB) && outputNames.includes(LOGSUMEXP);
}

/** Appends the scoring head to a graph that has `input_ids` and `logits`. Returns false if it cannot. */
export function addScoringHead(graph: onnx.IGraphProto): boolean {
  const names = new Set([...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name));
  if (!names.has('input_ids') || !names.has('logits')) return false;
  if (hasScoringHead((graph.output ?? []).map((o) => o.name ?? ''))) return true;
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
  const axis2 = ints('axis2', [2]);
  const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []) => {
    graph.node!.push({ opType, input, output: [output], name: `${p}.${output}`, attribute });
    return output;
  };
  const v = (name: string) => `${p}.${name}`;
  const logp = node('LogSoftmax', ['logits'], v('logp'), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }]);
  // Position t is scored by token t+1; the last position gets a padding index. Gathering from all of logp
  // avoids copying a [B, T-1, V] slice of it, and logp has one reader only, so onnxruntime can free it early.
  const next = node('Slice', ['input_ids', one, end, axis1], v('next'));
  const pad = node('Slice', ['input_ids', zero, one, axis1], v('pad'));
  const targets = node('Concat', [next, pad], v('targets'), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]);
  const index = node('Unsqueeze', [targets, axis2], v('index'));
  const gather = (data: string, out: string) =>
    node('GatherElements', [data, index], v(out), [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 2 }]);
  const logprob = node('Squeeze', [gather(logp, 'picked_logp'), axis2], v('logprob'));
  const logit = node('Squeeze', [gather('logits', 'picked_logit'), axis2], v('logit'));
  node('Slice', [logprob, zero, minusOne, axis1], TARGET_LOGPROB);
  // log Z = logit - log p, at any index: here the gathered one.
  node('Sub', [logit, logprob], LOGSUMEXP);
  const out = (name: string, dims: string[]) => graph.output!.push({
    name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  });
  out(TARGET_LOGPROB, ['batch', 'targets']);
  out(LOGSUMEXP, ['batch', 'sequence_length']);
  return true;
}
