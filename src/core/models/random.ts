// Fresh weights for a model config: the shapes every weight has, and GPT-2's initialisation
// (normal(0, 0.02), residual projections scaled by 1/sqrt(2 * n_layer), norms 1, biases 0).
import type { GPT2Config, LlamaConfig, ModelConfig, Weights } from './config';

/** Every weight of a config, in a fixed order, with its shape (the layout of config.ts). */
export function weightShapes(c: ModelConfig): Map<string, number[]> {
  return c.arch === 'gpt2' ? gpt2Shapes(c) : llamaShapes(c);
}

function gpt2Shapes(c: GPT2Config): Map<string, number[]> {
  const C = c.n_embd;
  const m = new Map<string, number[]>([['wte', [c.vocab_size, C]], ['wpe', [c.block_size, C]]]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    m.set(p + 'ln_1.weight', [C]).set(p + 'ln_1.bias', [C]);
    m.set(p + 'attn.c_attn.weight', [C, 3 * C]).set(p + 'attn.c_attn.bias', [3 * C]);
    m.set(p + 'attn.c_proj.weight', [C, C]).set(p + 'attn.c_proj.bias', [C]);
    m.set(p + 'ln_2.weight', [C]).set(p + 'ln_2.bias', [C]);
    m.set(p + 'mlp.c_fc.weight', [C, 4 * C]).set(p + 'mlp.c_fc.bias', [4 * C]);
    m.set(p + 'mlp.c_proj.weight', [4 * C, C]).set(p + 'mlp.c_proj.bias', [C]);
  }
  return m.set('ln_f.weight', [C]).set('ln_f.bias', [C]);
}

function llamaShapes(c: LlamaConfig): Map<string, number[]> {
  const D = c.dim;
  const hd = c.dim / c.n_heads;
  const kv = c.n_kv_heads * hd;
  const m = new Map<string, number[]>([['tok_embeddings', [c.vocab_size, D]]]);
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}.`;
    m.set(p + 'attention_norm', [D]);
    m.set(p + 'attention.wq', [D, c.n_heads * hd]).set(p + 'attention.wk', [D, kv]);
    m.set(p + 'attention.wv', [D, kv]).set(p + 'attention.wo', [c.n_heads * hd, D]);
    m.set(p + 'ffn_norm', [D]);
    m.set(p + 'feed_forward.w1', [D, c.hidden_dim]).set(p + 'feed_forward.w2', [c.hidden_dim, D]);
    m.set(p + 'feed_forward.w3', [D, c.hidden_dim]);
  }
  m.set('norm', [D]);
  if (!c.shared_classifier) m.set('output', [c.vocab_size, D]);
  return m;
}

type Init = 'normal' | 'residual' | 'ones' | 'zeros';

function initOf(name: string): Init {
  if (/(^|\.)(ln_\d|ln_f)\.weight$|_norm$|^norm$/.test(name)) return 'ones';
  if (name.endsWith('.bias')) return 'zeros';
  if (/c_proj\.weight$|attention\.wo$|feed_forward\.w2$/.test(name)) return 'residual';
  return 'normal';
}

/** splitmix32: a small, fast, deterministic source of uniforms in (0, 1). */
function uniforms(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (((z ^ (z >>> 16)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Fills data with normal(0, std) pairs from Box-Muller. */
function fillNormal(data: Float32Array, std: number, uniform: () => number): void {
  for (let i = 0; i < data.length; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    data[i] = r * Math.cos(t);
    if (i + 1 < data.length) data[i + 1] = r * Math.sin(t);
  }
}

/** A deterministic standard-normal stream. */
export function normalStream(seed: number): () => number {
  const one = new Float32Array(1);
  const uniform = uniforms(seed);
  return () => {
    fillNormal(one, 1, uniform);
    return one[0];
  };
}

export function randomWeights(config: ModelConfig, seed: number): Weights {
  const layers = config.arch === 'gpt2' ? config.n_layer : config.n_layers;
  const uniform = uniforms(seed);
  const weights: Weights = new Map();
  for (const [name, shape] of weightShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const init = initOf(name);
    if (init === 'ones') data.fill(1);
    else if (init !== 'zeros') {
      fillNormal(data, init === 'residual' ? 0.02 / Math.sqrt(2 * layers) : 0.02, uniform);
    }
    weights.set(name, { data, shape });
  }
  return weights;
}
