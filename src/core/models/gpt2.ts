// GPT-2 as an ONNX decoder graph (Radford et al. 2019): learned positions, pre-LN blocks,
// GELU-tanh MLP, final LayerNorm, LM head tied to the token embedding.
import { GraphBuilder } from '../onnx/builder';
import type { GPT2Config, Weights } from './config';
import { addWeights, attention, declareInputs, declareOutputs, linear, lmHead, Shape, splitHeads } from './graphParts';
import { weightShapes } from './random';

export interface WriteOptions {
  /** Also output each layer's attention probabilities as `attentions.{i}`. */
  attentionOutputs?: boolean;
  /** Also output the scoring head (src/core/onnx/scoringHead.ts) that analyses read. */
  scoringHead?: boolean;
}

export function gpt2Shape(c: GPT2Config): Shape {
  return { layers: c.n_layer, heads: c.n_head, kvHeads: c.n_head, headDim: c.n_embd / c.n_head, vocab: c.vocab_size };
}

/** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written out so any runtime computes the same thing. */
function geluTanh(g: GraphBuilder, x: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Add', [x, g.op('Mul', [cube, g.constFloat([0.044715])])]);
  const t = g.op('Tanh', [g.op('Mul', [inner, g.constFloat([Math.sqrt(2 / Math.PI)])])]);
  return g.op('Mul', [g.op('Mul', [x, g.constFloat([0.5])]), g.op('Add', [t, g.constFloat([1])])]);
}

function layerNorm(g: GraphBuilder, x: string, prefix: string, eps: number): string {
  return g.op('LayerNormalization', [x, `${prefix}.weight`, `${prefix}.bias`], { axis: -1, epsilon: { float: eps } });
}

export function buildGpt2Graph(c: GPT2Config, weights: Weights, opts: WriteOptions = {}): GraphBuilder {
  if (c.n_embd % c.n_head) throw new Error(`n_embd ${c.n_embd} is not a multiple of n_head ${c.n_head}`);
  const g = new GraphBuilder('gpt2');
  const s = gpt2Shape(c);
  const attentionOutputs = opts.attentionOutputs ?? false;
  const io = declareInputs(g, s);
  addWeights(g, weights, weightShapes(c));

  let x = g.op('Add', [g.op('Gather', ['wte', io.inputIds]), g.op('Gather', ['wpe', io.positions])]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}`;
    const h = layerNorm(g, x, `${p}.ln_1`, c.layer_norm_eps);
    const qkv = linear(g, h, `${p}.attn.c_attn.weight`, `${p}.attn.c_attn.bias`);
    const [q, k, v] = g.node('Split', [qkv], { axis: -1 }, 3).map((t) => splitHeads(g, t, s.heads, s.headDim));
    const a = attention(g, s, { layer: i, q, k, v, mask: io.mask, attentionOutputs });
    x = g.op('Add', [x, linear(g, a, `${p}.attn.c_proj.weight`, `${p}.attn.c_proj.bias`)]);
    const m = geluTanh(g, linear(g, layerNorm(g, x, `${p}.ln_2`, c.layer_norm_eps), `${p}.mlp.c_fc.weight`,
      `${p}.mlp.c_fc.bias`));
    x = g.op('Add', [x, linear(g, m, `${p}.mlp.c_proj.weight`, `${p}.mlp.c_proj.bias`)]);
  }
  lmHead(g, layerNorm(g, x, 'ln_f', c.layer_norm_eps), 'wte', c.n_embd, c.vocab_size);
  declareOutputs(g, s, attentionOutputs);
  return g;
}

export function writeGpt2Onnx(config: GPT2Config, weights: Weights, opts: WriteOptions = {}): Uint8Array {
  return buildGpt2Graph(config, weights, opts).serialize();
}
