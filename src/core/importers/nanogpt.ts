// nanoGPT's ckpt.pt: {'model': state_dict, 'model_args': {n_layer, n_head, n_embd, block_size, bias,
// vocab_size, dropout}, 'optimizer', 'iter_num', 'best_val_loss', 'config'}. Its linears are nn.Linear
// ([out, in], transposed here), its GELU is exact, its LayerNorms have no bias when bias=False, and its
// head is tied to wte. A compiled model's state dict names start with '_orig_mod.'; attn.bias is the
// causal-mask buffer, not a parameter, even when bias=False.
import type { DecoderConfig, Weights } from '../models/config';
import type { PyDict } from './pickle';
import { findPrefix, TensorPicker } from './pick';
import { readTorchCheckpoint, TorchTensor } from './torchCheckpoint';

function modelArgs(args: unknown, path: string): DecoderConfig {
  if (!(args instanceof Map)) throw new Error(`${path} is not a nanoGPT checkpoint: it has no model_args.`);
  const int = (k: string) => {
    const v = args.get(k);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new Error(`${path}: model_args.${k} is ${JSON.stringify(v)}; expected a positive integer.`);
    return v as number;
  };
  const C = int('n_embd');
  const H = int('n_head');
  if (C % H !== 0) throw new Error(`${path}: n_embd ${C} is not a multiple of n_head ${H}.`);
  const bias = args.get('bias') ?? true;
  if (typeof bias !== 'boolean') throw new Error(`${path}: model_args.bias is ${JSON.stringify(bias)}; expected True or False.`);
  return {
    arch: 'gpt2', vocab_size: int('vocab_size'), n_layer: int('n_layer'), n_head: H, n_kv_head: H, n_embd: C,
    head_dim: C / H, d_ff: 4 * C, block_size: int('block_size'), norm: 'layernorm', norm_eps: 1e-5, mlp: 'gelu',
    gelu: 'exact', position: 'learned', rope_theta: 10000, rope_layout: 'half', rotary_dim: 0, rope_scaling: null,
    parallel_residual: false, bias: { qkv: bias, o: bias, mlp: bias, norm: bias }, tied_head: true, sliding_window: null,
  };
}

export function readNanoGptCheckpoint(path: string): { config: DecoderConfig; weights: Weights; iterNum?: number } {
  const ckpt = readTorchCheckpoint(path);
  const root = ckpt.root instanceof Map ? ckpt.root : new Map();
  const sd = root.get('model');
  if (!(sd instanceof Map)) throw new Error(`${path} is not a nanoGPT checkpoint: it has no 'model' state dict.`);
  const config = modelArgs(root.get('model_args'), path);
  const src = ckpt.tensors(sd as PyDict);
  const prefix = findPrefix(src, 'transformer.wte.weight', ['', '_orig_mod.']);
  const wte = sd.get(`${prefix}transformer.wte.weight`) as TorchTensor;
  const head = sd.get(`${prefix}lm_head.weight`);
  // nanoGPT ties lm_head to wte (one storage). A head with storage of its own is a separate classifier.
  config.tied_head = !(head instanceof TorchTensor) || head.storage.key === wte.storage.key;
  const p = new TensorPicker(src, prefix + 'transformer.');
  const c = config, C = c.n_embd, F = c.d_ff, b = c.bias.qkv;
  p.copy('tok_emb', 'wte.weight', [c.vocab_size, C]);
  p.copy('pos_emb', 'wpe.weight', [c.block_size, C]);
  const norm = (canonical: string, name: string) => {
    p.copy(`${canonical}.weight`, `${name}.weight`, [C]);
    if (b) p.copy(`${canonical}.bias`, `${name}.bias`, [C]);
  };
  for (let i = 0; i < c.n_layer; i++) {
    const h = `h.${i}.`, l = `layers.${i}.`;
    norm(l + 'ln_1', h + 'ln_1');
    const qkv = p.linear(h + 'attn.c_attn.weight', 3 * C, C); // now [C, 3C]
    const qkvBias = b ? p.get(h + 'attn.c_attn.bias', [3 * C]) : null;
    ['q', 'k', 'v'].forEach((name, j) => {
      const w = new Float32Array(C * C);
      for (let r = 0; r < C; r++) w.set(qkv.subarray(r * 3 * C + j * C, r * 3 * C + (j + 1) * C), r * C);
      p.set(`${l}attn.${name}.weight`, w, [C, C]);
      if (qkvBias) p.set(`${l}attn.${name}.bias`, qkvBias.slice(j * C, (j + 1) * C), [C]);
    });
    p.set(l + 'attn.o.weight', p.linear(h + 'attn.c_proj.weight', C, C), [C, C]);
    if (b) p.copy(l + 'attn.o.bias', h + 'attn.c_proj.bias', [C]);
    norm(l + 'ln_2', h + 'ln_2');
    p.set(l + 'mlp.up.weight', p.linear(h + 'mlp.c_fc.weight', F, C), [C, F]);
    if (b) p.copy(l + 'mlp.up.bias', h + 'mlp.c_fc.bias', [F]);
    p.set(l + 'mlp.down.weight', p.linear(h + 'mlp.c_proj.weight', C, F), [F, C]);
    if (b) p.copy(l + 'mlp.down.bias', h + 'mlp.c_proj.bias', [C]);
  }
  norm('ln_f', 'ln_f');
  if (!config.tied_head) p.set('head.weight', new TensorPicker(src, prefix).get('lm_head.weight', [c.vocab_size, C]), [c.vocab_size, C]);
  const iter = root.get('iter_num');
  return { config, weights: p.weights, iterNum: typeof iter === 'number' ? iter : undefined };
}
