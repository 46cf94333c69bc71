// nanoGPT's meta.pkl: the character vocabulary its prepare.py writes for character-level datasets
// ({'vocab_size', 'itos': {id: char}, 'stoi': {char: id}}), as a Token Lens character tokenizer.
import { readFileSync } from 'node:fs';
import { charTokenizerFiles } from '../tokenizers/chars';
import type { TokenizerFiles } from '../tokenizers/types';
import { unpickle } from './pickle';

/** Token i is chars[i]. */
export function readMetaPkl(path: string): string[] {
  const root = unpickle(readFileSync(path), { what: path, allowed: {} });
  const itos = root instanceof Map ? root.get('itos') : undefined;
  if (!(itos instanceof Map)) throw new Error(`${path} is not a nanoGPT meta.pkl: it has no itos dictionary.`);
  const chars: string[] = [];
  for (const [id, ch] of itos) {
    if (!Number.isInteger(id) || (id as number) < 0 || typeof ch !== 'string') {
      throw new Error(`${path}: itos maps ${JSON.stringify(id)} to ${JSON.stringify(ch)}; expected token ids to characters.`);
    }
    chars[id as number] = ch;
  }
  for (let i = 0; i < chars.length; i++) if (chars[i] === undefined) throw new Error(`${path}: itos has no character for id ${i}.`);
  return chars;
}

/**
 * The character tokenizer of a meta.pkl: no BOS, as nanoGPT's sample.py encodes, and exactly the model's
 * vocabulary (no <unk> the model could not embed: a character it never saw is skipped).
 */
export function metaPklTokenizerFiles(path: string, modelMaxLength: number): TokenizerFiles {
  const files = charTokenizerFiles(readMetaPkl(path), { unk: false });
  return { tokenizer: files.tokenizer, tokenizerConfig: { ...files.tokenizerConfig, model_max_length: modelMaxLength } };
}
