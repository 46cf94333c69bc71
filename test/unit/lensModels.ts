// Models the lens tests run on, written the way a user gets them: stories260K imported from vendor/,
// and small random models covering the decoder's options (learned positions + LayerNorm + biases, and
// Qwen2's rotate-half RoPE + q/k/v biases + own head). Not a test file: the lens tests import it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DecoderConfig, Weights } from '../../src/core/models/config';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { writeModelFolder } from '../../src/core/models/folder';
import { writeModelOnnx } from '../../src/core/models/onnxWeights';
import { gpt2Config, llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import { charTokenizerFiles, charVocabulary } from '../../src/core/tokenizers/chars';
import { readLlama2c } from '../reference/llama2c';
import { sharpen } from '../reference/ortRun';

const vendor = path.resolve(__dirname, '../../vendor/stories260K');

export interface LensModel { dir: string; config: DecoderConfig; weights: Weights; text: string }

export const STORY = 'Once upon a time, there was a little girl named';

/** stories260K through the importer; config and weights read independently from the checkpoint. */
export async function stories(tmp: string): Promise<LensModel> {
  const dir = path.join(tmp, 'stories260K');
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    await importLlama2c({ checkpoint: path.join(vendor, 'stories260K.bin'), tokenizer: path.join(vendor, 'tok512.bin'), out: dir });
  }
  const { config, weights } = readLlama2c(path.join(vendor, 'stories260K.bin'));
  return { dir, config, weights, text: STORY };
}

const TEXT = 'the quick brown fox jumps over the lazy dog';
const chars = charVocabulary(TEXT);
const sizes = { n_layer: 3, n_head: 4, n_embd: 32, block_size: 64, vocab_size: chars.length + 1 };

export const RANDOM_CONFIGS: [string, DecoderConfig][] = [
  ['GPT-2-shaped (learned positions, LayerNorm, biases, tied head)', gpt2Config(sizes)],
  ['Qwen2-style (rotate-half RoPE, q/k/v biases, GQA, own head)', llamaConfig({ ...sizes, arch: 'qwen2', n_kv_head: 2,
    d_ff: 48, rope_layout: 'half', rope_theta: 1e6, bias: { qkv: true, o: false, mlp: false, norm: false }, tied_head: false })],
];

/** A random model of a config, sharpened so that its predictions are far from uniform. */
export async function randomModel(tmp: string, n: number): Promise<LensModel> {
  const config = RANDOM_CONFIGS[n][1];
  const dir = path.join(tmp, `random-${n}`);
  const weights = sharpen(randomWeights(config, 11 + n), 7 + n);
  await writeModelFolder(dir, { config, weights, tokenizer: charTokenizerFiles(chars), attentionOutputs: true });
  return { dir, config, weights, text: 'the lazy fox jumps over' };
}

/**
 * The same model as a foreign ONNX export would come: no Token Lens config in config.json and no
 * hidden-state outputs in the graph.
 */
export async function foreignCopy(m: LensModel, tmp: string): Promise<string> {
  const dir = path.join(tmp, `${path.basename(m.dir)}-foreign`);
  fs.cpSync(m.dir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), writeModelOnnx(m.config, m.weights, { attentionOutputs: true, scoringHead: true }));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  delete config.token_lens;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
