// token-lens: the headless CLI over the Token Lens core.
import * as fs from 'node:fs';
import { UsageError, commonModelOptions, intOption, numberOption, parse } from './args';
import { runExplain } from './explain';
import { NotTextError } from '../core/textBytes';
import { loadModel } from './load';

const HELP = `token-lens: see what a language model predicts, how surprised it is, and where it looks.

commands:
  explain        [--model DIR|HUB_ID] [--top-k K] [--attention] [--logit-lens]
                 [--attribution occlusion|gradient|integrated-gradients [--target TOKEN] [--contrast TOKEN] [--steps N]]
                 [--json] (TEXT | --file FILE)
  generate       [--model DIR|HUB_ID] [--max-new-tokens N] [--greedy | --temperature T] PROMPT
  import-llama2c --checkpoint FILE --tokenizer FILE --out DIR
  write-random   --arch gpt2|llama --preset NAME --out DIR [--seed S] [--tokenizer FILE] [--context N]
  train          --file FILE [--from DIR] [--preset toy|nanogpt-cpu] [--lora R] [--steps N] [--lr X]
                 [--optimizer adamw|sgd] [--seed S] --out DIR [--json]

model options: --model (default: the built-in stories260K), --cache-dir DIR (default ~/.cache/token-lens or $TOKEN_LENS_CACHE), --offline,
               --hub-host URL (where Hub ids are downloaded from)`;

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  explain: runExplain,
  generate: runGenerate,
  'import-llama2c': runImport,
  'write-random': runWriteRandom,
  train: async (argv) => (await import('./train')).runTrain(argv),
};

async function runGenerate(argv: string[]): Promise<number> {
  const usage = 'usage: token-lens generate [--model DIR|HUB_ID] [--max-new-tokens N] [--greedy | --temperature T] PROMPT';
  const { values, positionals } = parse(argv, {
    ...commonModelOptions,
    'max-new-tokens': { type: 'string' },
    greedy: { type: 'boolean' },
    temperature: { type: 'string' },
  }, usage);
  if (positionals.length > 1) throw new UsageError(`give one PROMPT argument (quote it)\n\n${usage}`);
  const maxNewTokens = intOption(values['max-new-tokens'], 'max-new-tokens', 128, 1);
  const temperature = numberOption(values.temperature, 'temperature', { above: 0 });
  if (temperature !== undefined && values.greedy) throw new UsageError('--greedy always takes the top token: give --greedy or --temperature, not both');
  const session = await loadModel(values);
  try {
    const text = await session.generate(positionals[0] ?? '', { maxNewTokens, greedy: values.greedy, temperature });
    process.stdout.write(`${text}\n`);
  } finally {
    await session.dispose();
  }
  return 0;
}

async function runImport(argv: string[]): Promise<number> {
  const usage = 'usage: token-lens import-llama2c --checkpoint FILE --tokenizer FILE --out DIR';
  const { values } = parse(argv, {
    checkpoint: { type: 'string' }, tokenizer: { type: 'string' }, out: { type: 'string' },
  }, usage);
  for (const k of ['checkpoint', 'tokenizer', 'out'] as const) {
    if (!values[k]) throw new UsageError(`--${k} is required\n\n${usage}`);
  }
  for (const k of ['checkpoint', 'tokenizer'] as const) {
    if (!fs.existsSync(values[k]!)) throw new UsageError(`no such file: ${values[k]}`);
  }
  const { importLlama2c } = await import('../core/importers/llama2c');
  const { config } = await importLlama2c({ checkpoint: values.checkpoint!, tokenizer: values.tokenizer!, out: values.out! });
  process.stdout.write(`wrote ${values.out} (llama: ${config.n_layer} layers, ${config.n_head} heads, dim ${config.n_embd}, vocab ${config.vocab_size})\n`);
  return 0;
}

async function runWriteRandom(argv: string[]): Promise<number> {
  const usage = 'usage: token-lens write-random --arch gpt2|llama --preset NAME --out DIR [--seed S] [--tokenizer FILE] [--context N]';
  const { values } = parse(argv, {
    arch: { type: 'string' }, preset: { type: 'string' }, out: { type: 'string' },
    seed: { type: 'string' }, tokenizer: { type: 'string' }, context: { type: 'string' },
  }, usage);
  if (!values.arch || !values.preset || !values.out) throw new UsageError(`--arch, --preset and --out are required\n\n${usage}`);
  const { MODEL_PRESETS } = await import('../core/models/presets');
  const named = MODEL_PRESETS[values.preset];
  if (!named || named.arch !== values.arch) {
    const names = Object.entries(MODEL_PRESETS).filter(([, c]) => c.arch === values.arch).map(([n]) => n);
    throw new UsageError(`unknown ${values.arch} preset "${values.preset}"; choose one of: ${names.join(', ') || '(none: --arch is gpt2 or llama)'}`);
  }
  // A shorter context window: the same layer shapes, a smaller position table (quicker tests and benchmarks).
  const context = intOption(values.context, 'context', 0, 2) || undefined;
  const config = context ? { ...named, block_size: context } : named;
  const tokenizer = await tokenizerFor(config, values.tokenizer);
  const { randomWeights } = await import('../core/models/random');
  const { writeModelFolder } = await import('../core/models/folder');
  await writeModelFolder(values.out, {
    config,
    weights: randomWeights(config, intOption(values.seed, 'seed', 0, 0, 0xffffffff)),
    tokenizer,
    attentionOutputs: true,
    description: `random weights, preset ${values.preset}`,
  });
  process.stdout.write(`wrote ${values.out} (${values.arch} ${values.preset}, random weights)\n`);
  return 0;
}

async function tokenizerFor(config: import('../core/models/config').DecoderConfig, file?: string) {
  if (file) {
    const { readLlama2cTokenizer, llama2cTokenizerFiles } = await import('../core/tokenizers/llama2c');
    return llama2cTokenizerFiles(readLlama2cTokenizer(fs.readFileSync(file), config.vocab_size));
  }
  if (config.arch === 'gpt2' && config.vocab_size === 50257) {
    const { gpt2TokenizerFiles } = await import('../core/tokenizers/gpt2');
    return gpt2TokenizerFiles();
  }
  if (config.arch === 'llama') {
    const { llama2cTokenizerFiles } = await import('../core/tokenizers/llama2c');
    const { syntheticLlamaTokenizer } = await import('../core/tokenizers/synthetic');
    return llama2cTokenizerFiles(syntheticLlamaTokenizer(config.vocab_size));
  }
  throw new UsageError(`this preset has a ${config.vocab_size}-token vocabulary: give --tokenizer FILE (a llama2.c tokenizer.bin of that size)`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return command ? 0 : 2;
  }
  const run = commands[command];
  if (!run) {
    process.stderr.write(`token-lens: unknown command "${command}"\n\n${HELP}\n`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`token-lens ${command}: ${err.message}\n`);
    if (process.env.TOKEN_LENS_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    // Bad input (flags, a file that is not text) exits 2, as usage errors do; failures while running exit 1.
    return err instanceof UsageError || err instanceof NotTextError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
