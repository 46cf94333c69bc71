// Continuing a text. Sampling needs a loop over KV caches that transformers.js's own model already has, so
// generation loads that model (on first use, from the same folder) instead of going through the
// forward-pass worker that analyses use.
import { AnalysisCancelled, AnalysisError } from './analysisErrors';
import { inferenceSessionOptions, type OpenedModel } from './openModel';
import type { TextTokenizer } from './textTokenizer';
import { transformers, withTransformersEnv } from './transformers';

type Model = Awaited<ReturnType<Awaited<ReturnType<typeof transformers>>['AutoModelForCausalLM']['from_pretrained']>>;

export class Generator {
  private model?: Promise<Model>;

  constructor(private readonly opened: OpenedModel, private readonly textTokenizer: TextTokenizer, private readonly threads?: number) {}

  /** Continues a prompt (empty: from BOS) and returns only the new text. */
  async generate(prompt: string, opts: { maxNewTokens?: number; greedy?: boolean; temperature?: number } = {}): Promise<string> {
    const { info, vocab, tokenizer } = this.opened;
    if (info.objective === 'masked') {
      throw new AnalysisError(`${this.opened.ref} is a masked language model: it fills in blanks (${info.maskToken}) rather than continuing a text.`);
    }
    const { Tensor } = await transformers();
    const model = await this.loadModel();
    let ids = prompt.length ? this.textTokenizer.encode(prompt) : [];
    if (!ids.length) {
      const bos = vocab.bosId;
      if (bos === undefined) throw new AnalysisError('This model has no BOS token: give a prompt to continue.');
      ids = [bos];
    }
    const room = info.contextLength - ids.length;
    if (room <= 0) throw new AnalysisError(`The prompt has ${ids.length} tokens: no room left in the ${info.contextLength}-token context.`);
    const maxNew = Math.min(opts.maxNewTokens ?? 256, room);
    const inputs = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const output = await model.generate({
      inputs,
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      max_new_tokens: maxNew,
      do_sample: !opts.greedy,
      temperature: opts.temperature ?? 1,
    } as never) as { tolist(): bigint[][] };
    const all = output.tolist()[0].map(Number);
    const before = tokenizer.decode(ids, { skip_special_tokens: true });
    const after = tokenizer.decode(all, { skip_special_tokens: true });
    return after.startsWith(before) ? after.slice(before.length) : after;
  }

  private loadModel(): Promise<Model> {
    const { folder, generateWith } = this.opened;
    // Loaded in turn with downloads, which change transformers.js's global env while they run.
    return (this.model ??= transformers().then(({ AutoModelForCausalLM, env }) =>
      withTransformersEnv(undefined, () => new AnalysisCancelled(), async () => {
        env.allowLocalModels = true;
        return AutoModelForCausalLM.from_pretrained(folder, {
          local_files_only: true,
          dtype: generateWith.dtype as 'fp32',
          model_file_name: generateWith.modelFileName,
          session_options: inferenceSessionOptions(this.threads),
        });
      })));
  }

  async dispose(): Promise<void> {
    if (this.model) await (await this.model.catch(() => undefined))?.dispose();
  }
}
