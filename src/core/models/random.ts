// Fresh weights for any decoder or encoder config (shapes from decoder.ts, encoder.ts) with GPT-2's
// initialisation (normal(0, 0.02), residual projections scaled by 1/sqrt(2 * n_layer), norms 1, biases 0).
import type { DecoderConfig, Weights } from './config';
import { weightShapes } from './decoder';

type Init = 'normal' | 'residual' | 'ones' | 'zeros';

function initOf(name: string): Init {
  if (/(^|\.)(ln_\w+|ln)\.weight$/.test(name)) return 'ones';
  if (name.endsWith('.bias')) return 'zeros';
  if (/(attn\.o|mlp\.down)\.weight$/.test(name)) return 'residual';
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

export function randomWeights(config: DecoderConfig, seed: number): Weights {
  return randomTensors(weightShapes(config), config.n_layer, seed);
}

/** Fresh weights of the given names and shapes, for a model of `layers` blocks. */
export function randomTensors(shapes: Map<string, number[]>, layers: number, seed: number): Weights {
  const uniform = uniforms(seed);
  const weights: Weights = new Map();
  for (const [name, shape] of shapes) {
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
