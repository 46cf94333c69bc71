// token-lens write-random --arch bert: a masked language model (encoder.ts) with random weights and a
// WordPiece tokenizer: the built-in one, or a BERT vocab.txt (one piece per line) given with --tokenizer.
import * as fs from 'node:fs';
import { UsageError, intOption } from './args';

export async function writeRandomEncoder(values: { preset?: string; out?: string; seed?: string; tokenizer?: string; context?: string }): Promise<number> {
  const { ENCODER_PRESETS } = await import('../core/models/presets');
  const named = ENCODER_PRESETS[values.preset ?? ''];
  if (!named) throw new UsageError(`unknown bert preset "${values.preset}"; choose one of: ${Object.keys(ENCODER_PRESETS).join(', ')}`);
  const { basicWordPieceVocabulary, wordPieceTokenizerFiles } = await import('../core/tokenizers/wordpiece');
  let vocab = basicWordPieceVocabulary();
  if (values.tokenizer) {
    if (!fs.existsSync(values.tokenizer)) throw new UsageError(`no such file: ${values.tokenizer}`);
    vocab = fs.readFileSync(values.tokenizer, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  }
  let tokenizer;
  try {
    tokenizer = wordPieceTokenizerFiles(vocab);
  } catch (e) {
    throw new UsageError(`${values.tokenizer ?? 'the vocabulary'} is not a BERT vocab.txt: ${(e as Error).message}`);
  }
  const context = intOption(values.context, 'context', 0, 2) || undefined;
  const config = { ...named, vocab_size: vocab.length, ...(context ? { block_size: context } : {}) };
  const { encoderWeightShapes } = await import('../core/models/encoder');
  const { randomTensors } = await import('../core/models/random');
  const { writeEncoderFolder } = await import('../core/models/encoderFolder');
  const weights = randomTensors(encoderWeightShapes(config), config.n_layer, intOption(values.seed, 'seed', 0, 0, 0xffffffff));
  await writeEncoderFolder(values.out!, { config, weights, tokenizer, description: `random weights, preset ${values.preset}` });
  process.stdout.write(`wrote ${values.out} (bert ${values.preset}, random weights, ${vocab.length}-piece WordPiece vocabulary)\n`);
  return 0;
}
