// Reading a Hugging Face config.json with messages that name the file and the field.
import type { DecoderConfig, Weights } from '../models/config';
import type { CheckpointTensors } from './tensors';

export class HfConfig {
  constructor(readonly json: Record<string, unknown>, readonly path: string) {}

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  private bad(key: string, want: string): Error {
    return new Error(`${this.path}: ${key} is ${JSON.stringify(this.json[key])}; expected ${want}.`);
  }

  int(key: string, fallback?: number): number {
    if (!this.has(key)) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${this.path} has no ${key}.`);
    }
    const v = this.json[key];
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw this.bad(key, 'a positive integer');
    return v as number;
  }

  num(key: string, fallback?: number): number {
    if (!this.has(key)) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${this.path} has no ${key}.`);
    }
    const v = this.json[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(key, 'a number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== 'boolean') throw this.bad(key, 'true or false');
    return v;
  }

  str(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== 'string') throw this.bad(key, 'a string');
    return v;
  }

  /** A token id field; eos_token_id may be a list (Llama 3 Instruct stops at any of them). */
  tokenIds(key: string): number | number[] | undefined {
    const v = this.json[key];
    const ok = (id: unknown): id is number => Number.isSafeInteger(id) && (id as number) >= 0;
    if (Array.isArray(v)) return v.length && v.every(ok) ? (v.length === 1 ? v[0] : v) : undefined;
    return ok(v) ? v : undefined;
  }

  refuse(what: string): Error {
    return new Error(`${this.path}: ${what} is not supported.`);
  }
}

/** A head dimension must split evenly and rotate in pairs. */
export function checkHeads(c: DecoderConfig, path: string): void {
  const ok = c.n_head % c.n_kv_head === 0 && c.head_dim > 0 && (c.position !== 'rope' || c.rotary_dim % 2 === 0) &&
    c.rotary_dim <= c.head_dim;
  if (!ok) {
    throw new Error(`${path}: ${c.n_head} heads, ${c.n_kv_head} key/value heads, head size ${c.head_dim}, ` +
      `rotary size ${c.rotary_dim} do not make a consistent model.`);
  }
}

/** GELU flavour from an activation name (transformers' ACT2FN names). */
export function geluKind(cfg: HfConfig, key: string, fallback: string): 'tanh' | 'exact' {
  const act = cfg.str(key, fallback);
  if (act === 'gelu') return 'exact';
  if (['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act)) return 'tanh';
  throw cfg.refuse(`${key} "${act}" (Token Lens runs gelu, gelu_new and gelu_pytorch_tanh)`);
}

/** One model_type: its config.json read as a DecoderConfig, and its tensors under the canonical names. */
export interface HfFamily {
  config(cfg: HfConfig): DecoderConfig;
  weights(src: CheckpointTensors, c: DecoderConfig): Weights;
}
