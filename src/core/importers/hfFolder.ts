// A Hugging Face model folder: config.json, model.safetensors (or a sharded model.safetensors.index.json,
// or the older pytorch_model.bin, sharded or not) and tokenizer.json, read into the one decoder config and canonical weights.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { TokenizerFiles } from '../tokenizers/types';
import { HfConfig, HfFamily } from './hfConfig';
import { hfGpt2 } from './hfGpt2';
import { hfGptNeox } from './hfGptNeox';
import { hfLlama, hfMistral, hfQwen2 } from './hfLlama';
import { checkTokenizerFits, describe, ImportedModel, withMaxLength } from './imported';
import { openSafetensors, openShardedSafetensors, SAFETENSORS_INDEX } from './safetensors';
import { openSharded } from './sharded';
import { openTorchStateDict } from './torchCheckpoint';
import type { CheckpointTensors } from './tensors';

export const HF_FAMILIES: Record<string, HfFamily> = {
  gpt2: hfGpt2, llama: hfLlama, qwen2: hfQwen2, mistral: hfMistral, gpt_neox: hfGptNeox,
};

/** Masked language models, imported as encoders (hfBert.ts). */
export const HF_MASKED_TYPES = ['bert', 'roberta'] as const;

function readJson(path: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

export function isHfFolder(dir: string): boolean {
  return existsSync(join(dir, 'config.json')) && statSync(dir).isDirectory();
}

const TORCH_INDEX = 'pytorch_model.bin.index.json';

/** The weights of a folder: safetensors when there are any (what save_pretrained writes), else pytorch_model.bin. */
export function openHfWeights(dir: string): CheckpointTensors {
  const index = join(dir, SAFETENSORS_INDEX);
  if (existsSync(index)) return openShardedSafetensors(index);
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return openSafetensors(single);
  // The older format (safe_serialization=False): torch zip-pickles, read without running any pickle code.
  if (existsSync(join(dir, TORCH_INDEX))) return openSharded(join(dir, TORCH_INDEX), openTorchStateDict);
  if (existsSync(join(dir, 'pytorch_model.bin'))) return openTorchStateDict(join(dir, 'pytorch_model.bin'));
  throw new Error(`${dir} has no weights: expected model.safetensors, ${SAFETENSORS_INDEX}, pytorch_model.bin or ${TORCH_INDEX}.`);
}

/** The config.json's model family, or an error naming it and the supported ones. */
export function hfFamily(dir: string): { cfg: HfConfig; family: HfFamily } {
  const path = join(dir, 'config.json');
  const cfg = new HfConfig(readJson(path), path);
  const type = cfg.json.model_type;
  const family = typeof type === 'string' ? HF_FAMILIES[type] : undefined;
  if (!family) {
    throw new Error(`${path} has model_type ${JSON.stringify(type ?? null)}, which Token Lens cannot import; ` +
      `supported: ${[...Object.keys(HF_FAMILIES), ...HF_MASKED_TYPES].join(', ')}.`);
  }
  return { cfg, family };
}

function folderTokenizer(dir: string): TokenizerFiles {
  const path = join(dir, 'tokenizer.json');
  if (!existsSync(path)) throw new Error(`${dir} has no tokenizer.json; give one with --tokenizer FILE (or --tokenizer gpt2).`);
  const configPath = join(dir, 'tokenizer_config.json');
  return { tokenizer: readJson(path), tokenizerConfig: existsSync(configPath) ? readJson(configPath) : {} };
}

const firstId = (ids: number | number[] | undefined) => (Array.isArray(ids) ? ids[0] : ids);

export function readHfCheckpoint(dirIn: string, tokenizer?: TokenizerFiles): ImportedModel {
  const dir = resolve(dirIn);
  const { cfg, family } = hfFamily(dir);
  const config = family.config(cfg);
  const weights = family.weights(openHfWeights(dir), config);
  const tok = tokenizer ?? folderTokenizer(dir);
  checkTokenizerFits(tok, config, tokenizer ? 'given with --tokenizer' : join(dir, 'tokenizer.json'));
  return {
    config,
    weights,
    tokenizer: withMaxLength(tok, config.block_size),
    specialTokens: { bos: firstId(cfg.tokenIds('bos_token_id')), eos: cfg.tokenIds('eos_token_id') },
    description: describe(basename(dir), `the Hugging Face checkpoint \`${basename(dir)}\` (model_type ${String(cfg.json.model_type)})`, config),
  };
}
