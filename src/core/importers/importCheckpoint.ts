// `token-lens import`: any supported checkpoint into a Token Lens model folder.
//
// --from is a Hugging Face model folder, a nanoGPT ckpt.pt, or a llama2.c .bin. The folder is written
// beside --out under a temporary name and renamed into place only when complete, so a failure or a
// cancellation never leaves a half-written --out behind.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { DecoderConfig } from '../models/config';
import { writeModelFolder } from '../models/folder';
import { gpt2TokenizerFiles } from '../tokenizers/gpt2';
import { readLlama2cCheckpoint } from './llama2c';
import { llama2cTokenizerFiles, readLlama2cTokenizer } from '../tokenizers/llama2c';
import type { TokenizerFiles } from '../tokenizers/types';
import type { LoadProgress } from '../types';
import { isHfFolder, readHfCheckpoint } from './hfFolder';
import { hfEncoderType, readHfEncoder } from './hfBert';
import type { EncoderConfig } from '../models/encoder';
import { writeEncoderFolder } from '../models/encoderFolder';
import { checkTokenizerFits, describe, ImportedModel, withMaxLength } from './imported';
import { metaPklTokenizerFiles } from './metaPkl';
import { readNanoGptCheckpoint } from './nanogpt';
import { ImportCancelled, stagingDirFor } from './staging';

export { ImportCancelled } from './staging';

export type CheckpointKind = 'huggingface' | 'nanogpt' | 'llama2c';

export interface ImportOptions {
  from: string;
  out: string;
  /** 'gpt2', a tokenizer.json, a nanoGPT meta.pkl or a llama2.c tokenizer.bin. */
  tokenizer?: string;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Where to build the folder before the rename (default: a fresh name beside --out). */
  stagingDir?: string;
}

export interface ImportResult {
  kind: CheckpointKind;
  /** A decoder's config; an encoder's for a masked language model (BERT, RoBERTa). */
  config: DecoderConfig | EncoderConfig;
  out: string;
}

const ZIP_MAGIC = 0x04034b50;
/** Files of a Hugging Face folder that stand for the folder when given as --from. */
const HF_FOLDER_FILE = /^(config\.json|model(-\d+-of-\d+)?\.safetensors|pytorch_model(-\d+-of-\d+)?\.bin|(model\.safetensors|pytorch_model\.bin)\.index\.json)$/;

export function checkpointKind(from: string): CheckpointKind {
  if (!existsSync(from)) throw new Error(`${from} does not exist.`);
  if (statSync(from).isDirectory()) {
    if (isHfFolder(from)) return 'huggingface';
    const hint = existsSync(join(from, 'ckpt.pt')) ? ` For nanoGPT, give the file itself: --from ${join(from, 'ckpt.pt')}.` : '';
    throw new Error(`${from} is a folder without config.json, so not a Hugging Face model folder.${hint}`);
  }
  if (HF_FOLDER_FILE.test(basename(from)) && isHfFolder(dirname(resolve(from)))) return 'huggingface';
  const head = readFileSync(from).subarray(0, 4);
  if (head.length === 4 && head.readUInt32LE(0) === ZIP_MAGIC) return 'nanogpt';
  if (/\.(pt|pth|ckpt)$/.test(from)) return 'nanogpt'; // not a zip: the reader says why
  return 'llama2c';
}

/** --out may be new, an empty folder, or a model folder to replace; anything else is kept safe. */
function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`--out ${out} is a file; give a folder.`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes('config.json')) {
    throw new Error(`--out ${out} is a folder with other files in it; give a new or empty folder, or a model folder to replace.`);
  }
}

function tokenizerFrom(spec: string): TokenizerFiles {
  if (spec === 'gpt2') return gpt2TokenizerFiles();
  if (!existsSync(spec)) throw new Error(`The tokenizer file ${spec} does not exist.`);
  if (spec.endsWith('.json')) {
    const tokenizer = JSON.parse(readFileSync(spec, 'utf8'));
    const sibling = join(dirname(spec), 'tokenizer_config.json');
    return { tokenizer, tokenizerConfig: existsSync(sibling) ? JSON.parse(readFileSync(sibling, 'utf8')) : {} };
  }
  throw new Error(`--tokenizer ${spec}: expected gpt2, a tokenizer.json, a meta.pkl or a llama2.c tokenizer.bin.`);
}

function readNanoGpt(from: string, spec: string | undefined): ImportedModel {
  const { config, weights } = readNanoGptCheckpoint(from);
  // Like nanoGPT's sample.py: the dataset's meta.pkl when there is one, GPT-2's tokenizer otherwise.
  const beside = join(dirname(from), 'meta.pkl');
  const tokSpec = spec ?? (existsSync(beside) ? beside : 'gpt2');
  const tokenizer = tokSpec.endsWith('.pkl') ? metaPklTokenizerFiles(tokSpec, config.block_size) : tokenizerFrom(tokSpec);
  checkTokenizerFits(tokenizer, config, tokSpec);
  const gpt2 = tokSpec === 'gpt2';
  return {
    config, weights, tokenizer: withMaxLength(tokenizer, config.block_size),
    specialTokens: gpt2 ? { bos: 50256, eos: 50256 } : {},
    description: describe(basename(dirname(resolve(from))) || basename(from),
      `the nanoGPT checkpoint \`${basename(from)}\` with the tokenizer ${gpt2 ? 'of GPT-2' : `\`${basename(tokSpec)}\``}`, config),
  };
}

function readLlama2c(from: string, spec: string | undefined): ImportedModel {
  if (!spec || spec === 'gpt2' || !existsSync(spec)) {
    throw new Error(`A llama2.c checkpoint needs its tokenizer.bin: --tokenizer FILE${spec ? ` (${spec} does not exist)` : ''}.`);
  }
  const { config, weights } = readLlama2cCheckpoint(readFileSync(from));
  const tok = readLlama2cTokenizer(readFileSync(spec));
  if (tok.pieces.length !== config.vocab_size) {
    throw new Error(`The tokenizer ${spec} has ${tok.pieces.length} tokens but the checkpoint ${from} has a vocabulary of ` +
      `${config.vocab_size}: they do not belong together.`);
  }
  return {
    // No special tokens given: the writer takes them from the tokenizer and, as llama2.c does, also stops at BOS.
    config, weights, tokenizer: llama2cTokenizerFiles(tok, { modelMaxLength: config.block_size }),
    description: describe(basename(from).replace(/\.bin$/, ''),
      `the llama2.c checkpoint \`${basename(from)}\` and tokenizer \`${basename(spec)}\``, config),
  };
}

export async function importCheckpoint(opts: ImportOptions): Promise<ImportResult> {
  const say = (message: string) => opts.onProgress?.({ status: 'prepare', message });
  const check = () => {
    if (opts.signal?.aborted) throw new ImportCancelled();
  };
  const out = resolve(opts.out);
  const kind = checkpointKind(opts.from);
  checkOut(out);
  say(`Reading ${opts.from}`);
  const from = kind === 'huggingface' && !statSync(opts.from).isDirectory() ? dirname(resolve(opts.from)) : opts.from;
  const encoderType = kind === 'huggingface' ? hfEncoderType(from) : undefined;
  if (encoderType) {
    const encoder = readHfEncoder(from, encoderType, opts.tokenizer ? tokenizerFrom(opts.tokenizer) : undefined);
    check();
    await writeStaged(out, opts.stagingDir, (staging) => writeEncoderFolder(staging, encoder), check, say);
    return { kind, config: encoder.config, out };
  }
  const model = kind === 'huggingface'
    ? readHfCheckpoint(from, opts.tokenizer ? tokenizerFrom(opts.tokenizer) : undefined)
    : kind === 'nanogpt' ? readNanoGpt(from, opts.tokenizer) : readLlama2c(from, opts.tokenizer);
  check();
  await writeStaged(out, opts.stagingDir, (staging) => writeModelFolder(staging, {
    config: model.config,
    weights: model.weights,
    tokenizer: model.tokenizer,
    attentionOutputs: true,
    description: model.description,
    specialTokens: model.specialTokens,
  }), check, say);
  return { kind, config: model.config, out };
}

/** Writes the folder under a staging name beside `out`, then moves it into place (nothing half-written is left). */
async function writeStaged(out: string, stagingDir: string | undefined, write: (staging: string) => Promise<void>,
  check: () => void, say: (message: string) => void): Promise<void> {
  const staging = stagingDir ?? stagingDirFor(out);
  await mkdir(dirname(staging), { recursive: true });
  try {
    say(`Writing ${out}`);
    await write(staging);
    check();
    await replaceFolder(staging, out);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
  say('Imported');
}

/** Moves the finished folder into place; an old model folder there goes only once the new one is in. */
async function replaceFolder(staging: string, out: string): Promise<void> {
  checkOut(out);
  if (!existsSync(out)) return rename(staging, out);
  const old = `${staging}.old`;
  await rename(out, old);
  try {
    await rename(staging, out);
  } catch (e) {
    await rename(old, out);
    throw e;
  }
  await rm(old, { recursive: true, force: true });
}
