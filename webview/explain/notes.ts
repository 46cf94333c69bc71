// Short teaching notes, folded by default; which ones are open survives hide/show.
import { h } from '../shared/dom';
import { collapsible } from '../shared/controls';

const NOTES: { id: string; title: string; body: (string | HTMLElement)[] }[] = [
  {
    id: 'softmax', title: 'Softmax: from logits to probabilities',
    body: [
      h('p', {}, 'For every token of the vocabulary the model outputs one score, a logit z', h('sub', {}, 'i'),
        '. Softmax turns scores into probabilities: p', h('sub', {}, 'i'), ' = exp(z', h('sub', {}, 'i'),
        ' / T) / Σ', h('sub', {}, 'j'), ' exp(z', h('sub', {}, 'j'), ' / T). Only differences between logits matter.'),
      h('p', {}, 'T is the temperature. T = 1 is the model as trained. T < 1 sharpens the distribution toward the top token '
        + '(T → 0 is greedy decoding); T > 1 flattens it toward uniform. Top-k keeps the k most likely tokens, top-p the '
        + 'smallest set whose probabilities add up to p; the rest get probability 0 and the kept ones are renormalised to sum to 1.'),
    ],
  },
  {
    id: 'loss', title: 'Cross-entropy loss: the training target',
    body: [
      h('p', {}, 'A language model is trained to predict the next token. At every position the label is simply the token that '
        + 'actually comes next, and the loss is −ln p, where p is the probability the model gave that token. '
        + 'p = 1 costs 0 nats; p = 0.5 costs 0.69; p = 0.01 costs 4.6.'),
      h('p', {}, 'Training lowers the mean loss over all positions. Perplexity = exp(mean loss): the model is as unsure as if it '
        + 'picked uniformly among that many tokens. A model that guessed uniformly over a 512-token vocabulary would score '
        + 'ln 512 ≈ 6.24 nats, perplexity 512. The first token has no loss: nothing comes before it.'),
    ],
  },
  {
    id: 'mask', title: 'The causal mask',
    body: [
      h('p', {}, 'Each row of the attention map is one token (the query) and shows how it shares its attention among the tokens '
        + '(keys) it may look at; every row sums to 1. A token may look only at itself and earlier tokens, so everything above the '
        + 'diagonal is exactly 0. That mask is what lets one forward pass train on every position at once without any position '
        + 'seeing its own answer.'),
      h('p', {}, 'Many heads put much of their attention on the first token: when nothing else is relevant, the softmax still '
        + 'has to put its mass somewhere.'),
    ],
  },
  {
    id: 'blank', title: 'Predict the next token, or fill in the blank',
    body: [
      h('p', {}, 'One sentence, two questions. A causal model (GPT-2, Llama) reads “The cat sat on the” and predicts what comes '
        + 'next; it sees only the words before, so it can write a text one token at a time. A masked model (BERT) reads '
        + '“The cat sat on the ', h('code', {}, '[MASK]'), ' because it was warm.” and fills in the blank from the words on '
        + 'both sides: “because it was warm” helps it guess “mat”, which a causal model could not use.'),
      h('p', {}, 'So a masked model has no next token, and its attention map has no empty triangle: every token sees every '
        + 'other. Its loss per token is a pseudo-loss: each token is masked in turn and scored from all the others '
        + '(−ln p(token | rest)). Write the mask token in the text to see the fill-ins at that place.'),
    ],
  },
];

export function teachingNotes(open: string[], onToggle: (id: string, open: boolean) => void): HTMLElement {
  return h('div', { class: 'notes' }, ...NOTES.map((n) =>
    collapsible(n.title, open.includes(n.id), (isOpen) => onToggle(n.id, isOpen), { 'data-note': n.id }, ...n.body)));
}
