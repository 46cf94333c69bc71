// token-lens train: train a small GPT on a file from scratch, or fine-tune a model folder (fully or with LoRA),
// then write the result as a model folder the rest of Token Lens can load.
import { UsageError, intOption, numberOption, parse } from './args';
import { Trainer, TrainProgress } from '../core/trainer/trainer';
import { TRAINING_PRESETS } from '../core/trainer/presets';

const USAGE = `usage: token-lens train --file FILE --out DIR [--from DIR] [--preset ${Object.keys(TRAINING_PRESETS).join('|')}]
       [--lora R] [--steps N] [--lr X] [--optimizer adamw|sgd] [--seed S] [--json]
       [--batch B] [--block T] [--eval-every N] [--checkpoint-every N] [--resume] [--max-memory-mb M] [--threads N]
       [--clip X] [--warmup N]
  --clip is the global gradient-norm limit (default 1; 0 turns clipping off); --warmup the warm-up steps
  before cosine decay (default: a tenth of the steps, at most 100).
  Without --from, a GPT of the preset's size (default toy) learns the file's characters from scratch.
  --steps 0 writes the starting weights unchanged. Ctrl-C stops after the current step and writes the model.
  --json prints one line per step: {"step","loss","valLoss","tokensPerSec"}.`;

export async function runTrain(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    file: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, preset: { type: 'string' },
    lora: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' }, optimizer: { type: 'string' },
    seed: { type: 'string' }, json: { type: 'boolean' }, batch: { type: 'string' }, block: { type: 'string' },
    'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'boolean' },
    'max-memory-mb': { type: 'string' }, threads: { type: 'string' }, clip: { type: 'string' }, warmup: { type: 'string' },
  }, USAGE);
  const clip = numberOption(values.clip, 'clip', { min: 0 });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  if (!values.file) throw new UsageError(`--file is required\n\n${USAGE}`);
  if (!values.out) throw new UsageError(`--out is required\n\n${USAGE}`);
  if (values.preset && !TRAINING_PRESETS[values.preset]) throw new UsageError(`--preset must be one of ${Object.keys(TRAINING_PRESETS).join(', ')}`);
  if (values.preset && values.from) throw new UsageError('--preset sizes a model trained from scratch; --from fine-tunes an existing one: give one');
  const optimizer = values.optimizer ?? 'adamw';
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new UsageError(`--optimizer must be adamw or sgd, got "${optimizer}"`);
  const lora = intOption(values.lora, 'lora', 0, 0);
  if (lora > 0 && !values.from) throw new UsageError('--lora needs --from DIR (LoRA adapts an existing model)');
  const json = values.json ?? false;
  const say = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);

  const trainer = await Trainer.create({
    file: values.file, out: values.out, from: values.from, preset: values.preset, lora,
    steps: intOption(values.steps, 'steps', 500, 0), lr: numberOption(values.lr, 'lr', { above: 0 }), optimizer,
    seed: intOption(values.seed, 'seed', 1337, 0, 0xffffffff),
    batch: optionalInt(values.batch, 'batch', 1), block: optionalInt(values.block, 'block', 1),
    evalEvery: optionalInt(values['eval-every'], 'eval-every', 1),
    checkpointEvery: optionalInt(values['checkpoint-every'], 'checkpoint-every', 1),
    resume: values.resume, maxMemoryMB: optionalInt(values['max-memory-mb'], 'max-memory-mb', 64),
    threads: optionalInt(values.threads, 'threads', 1, 256),
    clip, warmup: optionalInt(values.warmup, 'warmup', 0),
  });
  for (const n of trainer.notes) say(n);
  const c = trainer.config;
  say(`Training ${c.arch} (${c.n_layer} layers, d ${c.n_embd}, ` +
    `vocabulary ${c.vocab_size}) with batch ${trainer.batch} x block ${trainer.block}${lora ? `, LoRA rank ${lora}` : ''}.`);

  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    say('Stopping after this step (Ctrl-C again to quit at once)...');
    trainer.stop();
  };
  process.on('SIGINT', onSigint);
  const every = (p: TrainProgress) => p.step === p.steps || p.step % Math.max(1, Math.floor(p.steps / 20)) === 0;
  try {
    const result = await trainer.run((p) => {
      if (json) {
        process.stdout.write(JSON.stringify({ step: p.step, loss: round(p.loss), valLoss: p.valLoss === null ? null : round(p.valLoss),
          tokensPerSec: p.tokensPerSec }) + '\n');
      } else if (every(p)) {
        say(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  val ${p.valLoss?.toFixed(4) ?? '-'}  ` +
          `${p.tokensPerSec} tokens/s  ETA ${Math.round(p.etaSec)} s`);
      }
    });
    if (result.step === 0 && result.status === 'done') say(`No steps: wrote the starting weights to ${result.out}.`);
    else say(result.message);
    if (result.warning) say(`Warning: ${result.warning}`);
    return result.status === 'done' || result.status === 'stopped' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await trainer.dispose();
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

const optionalInt = (value: string | undefined, name: string, min: number, max?: number) =>
  value === undefined ? undefined : intOption(value, name, 0, min, max);
