// token-lens: the headless CLI over the Token Lens core.
import * as fs from 'node:fs';
import { UsageError, commonModelOptions, intOption, numberOption, parse } from './args';
import { runExplain } from './explain';
import { NotTextError } from '../core/textBytes';
import { loadModel } from './load';

const HELP = `token-lens: see what a language model predicts, how surprised it is, and where it looks.

commands:
  explain        [--model DIR|HUB_ID] [--top-k K] [--attention [--attention-layers 0,3-5]] [--logit-lens]
                 [--attribution occlusion|gradient|integrated-gradients [--target TOKEN] [--contrast TOKEN] [--steps N]]
                 [--json] (TEXT | --file FILE)
  generate       [--model DIR|HUB_ID|FILE.gguf|ollama:NAME] [--max-new-tokens N] [--greedy | --temperature T] PROMPT
  serve          [--model M] [--port P] [--host H] [--served-model-name NAME] [--max-logprobs N]
                 (vLLM's /v1/completions for any local model; API key: TOKEN_LENS_SERVE_API_KEY)
  export-gguf    --model DIR --out FILE.gguf   (a Llama-architecture model Token Lens wrote, as F32 GGUF)
  import         --from PATH --out DIR [--tokenizer FILE|gpt2]
                 PATH: a Hugging Face model folder (gpt2, llama, qwen2, mistral, gpt_neox; bert, roberta), a nanoGPT
                 ckpt.pt (--tokenizer meta.pkl|gpt2) or a llama2.c .bin (--tokenizer tokenizer.bin)
  import-llama2c --checkpoint FILE --tokenizer FILE --out DIR   (the same as import)
  write-random   --arch gpt2|llama|bert --preset NAME --out DIR [--seed S] [--tokenizer FILE] [--context N]
                 bert: a masked language model; --tokenizer takes a BERT vocab.txt
  train          --file FILE [--from DIR] [--preset toy|nanogpt-cpu] [--lora R] [--steps N] [--lr X]
                 [--optimizer adamw|sgd] [--seed S] --out DIR [--json]
  quantize       --model DIR --to q8|q4|fp16 [--out DIR]
  compare        --model A --model B [--json] (TEXT | --file FILE)   (A or B may be DIR@q8, DIR@q4, DIR@fp16)

model options: --model (default: the built-in stories260K; a .gguf file or ollama:NAME runs on llama.cpp),
               --fast (llama.cpp: flash attention and an F16 KV cache; approximate numbers),
               an http(s):// address runs on that server: --served-model NAME, --timeout S,
               --api auto|openai|sglang (default auto: SGLang's /generate where the server has it),
               API key in TOKEN_LENS_API_KEY, --cache-dir DIR (default ~/.cache/token-lens or $TOKEN_LENS_CACHE), --offline,
               --hub-host URL (where Hub ids are downloaded from), --dtype auto|fp32|fp16|q8|q4 (which variant file)`;

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  explain: runExplain,
  generate: runGenerate,
  import: (argv) => runImport(argv, 'import'),
  'import-llama2c': (argv) => runImport(argv, 'import-llama2c'),
  'write-random': runWriteRandom,
  'export-gguf': runExportGguf,
  serve: async (argv) => (await import('./serve')).runServe(argv),
  train: async (argv) => (await import('./train')).runTrain(argv),
  quantize: async (argv) => (await import('./quantize')).runQuantize(argv),
  compare: async (argv) => (await import('./compare')).runCompare(argv),
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

async function runExportGguf(argv: string[]): Promise<number> {
  const usage = 'usage: token-lens export-gguf --model DIR --out FILE.gguf';
  const { values } = parse(argv, { model: { type: 'string' }, out: { type: 'string' } }, usage);
  if (!values.model || !values.out) throw new UsageError(`--model and --out are required\n\n${usage}`);
  if (!fs.existsSync(values.model)) throw new UsageError(`no such folder: ${values.model}`);
  const { exportGguf, GgufExportError } = await import('../core/gguf/exportGguf');
  try {
    const { tensors, bytes } = await exportGguf(values.model, values.out);
    process.stdout.write(`wrote ${values.out} (${tensors} F32 tensors, ${(bytes / 2 ** 20).toFixed(1)} MB)\n`);
  } catch (e) {
    if (e instanceof GgufExportError) throw new UsageError(e.message);
    throw e;
  }
  return 0;
}

async function runImport(argv: string[], name: 'import' | 'import-llama2c'): Promise<number> {
  const usage = name === 'import'
    ? 'usage: token-lens import --from PATH --out DIR [--tokenizer FILE|gpt2]'
    : 'usage: token-lens import-llama2c --checkpoint FILE --tokenizer FILE --out DIR';
  const { values } = parse(argv, {
    from: { type: 'string' }, checkpoint: { type: 'string' }, tokenizer: { type: 'string' }, out: { type: 'string' },
  }, usage);
  const from = name === 'import' ? values.from : values.checkpoint;
  if (!from) throw new UsageError(`--${name === 'import' ? 'from' : 'checkpoint'} is required\n\n${usage}`);
  if (!values.out) throw new UsageError(`--out is required\n\n${usage}`);
  if (!fs.existsSync(from)) throw new UsageError(`no such file or folder: ${from}`);
  if (values.tokenizer && values.tokenizer !== 'gpt2' && !fs.existsSync(values.tokenizer)) throw new UsageError(`no such file: ${values.tokenizer}`);
  const { importCheckpoint, ImportCancelled } = await import('../core/importers/importCheckpoint');
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const { kind, config: c } = await importCheckpoint({
      from, out: values.out, tokenizer: values.tokenizer, signal: abort.signal,
      onProgress: (p) => { if (p.message && process.stderr.isTTY) process.stderr.write(`${p.message}\n`); },
    });
    process.stdout.write(`wrote ${values.out} (${kind} ${c.arch}: ${c.n_layer} layers, ${c.n_head} heads, ` +
      `width ${c.n_embd}, vocab ${c.vocab_size}, context ${c.block_size})\n`);
    return 0;
  } catch (e) {
    if (e instanceof ImportCancelled) {
      process.stderr.write('token-lens import: cancelled; nothing was written\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

async function runWriteRandom(argv: string[]): Promise<number> {
  const usage = 'usage: token-lens write-random --arch gpt2|llama|bert --preset NAME --out DIR [--seed S] [--tokenizer FILE] [--context N]';
  const { values } = parse(argv, {
    arch: { type: 'string' }, preset: { type: 'string' }, out: { type: 'string' },
    seed: { type: 'string' }, tokenizer: { type: 'string' }, context: { type: 'string' },
  }, usage);
  if (!values.arch || !values.preset || !values.out) throw new UsageError(`--arch, --preset and --out are required\n\n${usage}`);
  if (values.arch === 'bert') return (await import('./randomEncoder')).writeRandomEncoder(values);
  const { MODEL_PRESETS } = await import('../core/models/presets');
  const named = MODEL_PRESETS[values.preset];
  if (!named || named.arch !== values.arch) {
    const names = Object.entries(MODEL_PRESETS).filter(([, c]) => c.arch === values.arch).map(([n]) => n);
    throw new UsageError(`unknown ${values.arch} preset "${values.preset}"; choose one of: ${names.join(', ') || '(none: --arch is gpt2, llama or bert)'}`);
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
