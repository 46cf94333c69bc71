// The next-token distribution from a server's candidates. They are log-probabilities over the whole
// vocabulary, of which the server sends its top K: at temperature 1 a candidate's probability is its
// exp(logprob) (softmax over the K alone would hand them the mass of the tokens not sent), and top-k / top-p
// renormalise over what they keep, exactly while that lies within the K. Another temperature needs every
// token's logit, which a server does not give: the K are then tempered among themselves, as the panel says.
import { controlledDistribution, normaliseControls, topIndices } from '../../analysis/distribution';
import type { SamplingControls } from '../../types';

export function serverDistribution(row: Float32Array, controls: SamplingControls, limit: number): ReturnType<typeof controlledDistribution> {
  const { temperature, topK, topP } = normaliseControls(controls, row.length);
  if (temperature !== 1) return controlledDistribution(row, controls, limit);
  const order = topIndices(row, topK > 0 ? topK : row.length).filter((i) => row[i] > -Infinity);
  const weights = order.map((i) => Math.exp(row[i]));
  let kept = order.length;
  let cumulative = 0;
  let reached = false;
  if (topP < 1) {
    for (let i = 0; i < order.length && !reached; i++) {
      cumulative += weights[i];
      if (cumulative >= topP) { kept = i + 1; reached = true; }
    }
  }
  // What the kept tokens weigh: all of the vocabulary without truncation; past the K, top-p's own share.
  const keptTotal = topK > 0 || reached ? weights.slice(0, kept).reduce((s, w) => s + w, 0) : topP < 1 ? topP : 1;
  const tokens = order.slice(0, Math.min(kept, limit)).map((id, i) => ({ id, logit: row[id], prob: weights[i] / keptTotal }));
  return { tokens, kept };
}
