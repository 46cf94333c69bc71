// A written model folder loads in transformers.js offline, generates like the reference, and
// exposes attention; config.json round-trips the plain config.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer, env, Tensor } from '@huggingface/transformers';
import type { DecoderConfig } from '../../src/core/models/config';
import { readModelFolderConfig, readModelFolderMeta, readWeightsFromOnnx, writeModelFolder } from '../../src/core/models/folder';
import { MODEL_PRESETS, gpt2Config, llamaConfig } from '../../src/core/models/presets';
import { randomWeights } from '../../src/core/models/random';
import type { TokenizerFiles } from '../../src/core/tokenizers/types';
import { referenceGreedy } from '../reference/forward';
import { sharpen } from '../reference/ortRun';

env.allowRemoteModels = false;
const root = mkdtempSync(join(tmpdir(), 'writer-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A word-level tokenizer: <unk> <s> </s> then w3 .. w{n-1}. */
function wordTokenizer(n: number): TokenizerFiles {
  const specials = ['<unk>', '<s>', '</s>'];
  const vocab: Record<string, number> = {};
  for (let i = 0; i < n; i++) vocab[i < 3 ? specials[i] : `w${i}`] = i;
  return {
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
        normalized: false, special: true })),
      normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    },
    tokenizerConfig: { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>',
      model_max_length: 64 },
  };
}

/** [label, config, the model_type transformers.js is told] */
const cases: [string, DecoderConfig, string][] = [
  ['gpt2', { ...MODEL_PRESETS['gpt2-tiny'], vocab_size: 60, block_size: 64 }, 'gpt2'],
  ['llama', MODEL_PRESETS['llama-tiny'], 'llama'],
  // Other families load as the model_type transformers.js knows them by; the cache follows the graph.
  ['gpt_neox', gpt2Config({ arch: 'gpt_neox', n_layer: 2, n_head: 4, n_embd: 32, block_size: 64, vocab_size: 60,
    position: 'rope', rope_layout: 'half', rotary_dim: 4, parallel_residual: true, gelu: 'exact', tied_head: false }), 'gpt_neox'],
  ['qwen2', llamaConfig({ arch: 'qwen2', n_layer: 2, n_head: 4, n_kv_head: 1, n_embd: 32, d_ff: 48, block_size: 64,
    vocab_size: 60, rope_layout: 'half', bias: { qkv: true, o: false, mlp: false, norm: false } }), 'qwen2'],
  ['mistral', llamaConfig({ arch: 'mistral', n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32, d_ff: 48, block_size: 64,
    vocab_size: 60, rope_layout: 'half', sliding_window: 32 }), 'mistral'],
  // A family transformers.js does not know (nanoGPT) loads as Llama: same inputs, outputs and cache.
  ['nanogpt', gpt2Config({ arch: 'nanogpt', n_layer: 2, n_head: 4, n_embd: 32, block_size: 64, vocab_size: 60,
    gelu: 'exact', bias: { qkv: false, o: false, mlp: false, norm: false } }), 'llama'],
];

for (const [label, config, modelType] of cases) {
  test(`${label}: transformers.js loads the folder, generates greedily like the reference, returns attentions`, async () => {
    const dir = join(root, label);
    const weights = sharpen(randomWeights(config, 3), 5);
    await writeModelFolder(dir, { config, weights, tokenizer: wordTokenizer(config.vocab_size), attentionOutputs: true,
      description: 'A random test model.' });
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    assert.deepEqual(readModelFolderConfig(dir), config);
    assert.equal(readModelFolderMeta(dir).attention_outputs, true);
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(hf.model_type, modelType);
    assert.equal(hf.eos_token_id, 2);

    const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const prompt = tokenizer.encode('w7 w12 w30 w4', { add_special_tokens: false });
    assert.deepEqual(prompt, [7, 12, 30, 4]);

    const model = await AutoModelForCausalLM.from_pretrained(dir, { local_files_only: true });
    try {
      const ids = [1, ...prompt];
      const input_ids = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
      const out = await model.generate({ input_ids, max_new_tokens: 10, do_sample: false }) as Tensor;
      const got = Array.from(out.data as BigInt64Array, Number);
      assert.deepEqual(got, referenceGreedy(config, weights, ids, 10, 2));
      assert.ok(got.length > ids.length + 1, 'generated more than one token');

      const attention_mask = new Tensor('int64', BigInt64Array.from(ids.map(() => 1n)), [1, ids.length]);
      const fwd = await model({ input_ids, attention_mask });
      const layers = config.n_layer;
      for (let i = 0; i < layers; i++) assert.equal(fwd[`attentions.${i}`].dims.join(), [1, 4, ids.length, ids.length].join());
      assert.deepEqual(fwd.logits.dims, [1, ids.length, config.vocab_size]);
    } finally {
      await model.dispose();
    }

    const back = readWeightsFromOnnx(readFileSync(join(dir, 'onnx', 'model.onnx')), config);
    assert.deepEqual(back.get('layers.1.mlp.down.weight')!.data, weights.get('layers.1.mlp.down.weight')!.data);
    assert.ok(existsSync(join(dir, 'README.md')));
  });
}

test('special tokens an importer knows decide config.json, generation_config.json and where generation stops', async () => {
  const config = MODEL_PRESETS['llama-tiny'];
  const weights = sharpen(randomWeights(config, 3), 5);
  const prompt = [1, 7, 12, 30, 4];
  const next = referenceGreedy(config, weights, prompt, 1).at(-1)!;
  assert.ok(![1, 2].includes(next), 'the tokenizer\'s own BOS and EOS would not stop here');
  const dir = join(root, 'special');
  await writeModelFolder(dir, { config, weights, tokenizer: wordTokenizer(config.vocab_size), specialTokens: { bos: 1, eos: [next, 63] } });
  const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
  assert.deepEqual([hf.bos_token_id, hf.eos_token_id, gen.eos_token_id], [1, [next, 63], [next, 63]]);
  const model = await AutoModelForCausalLM.from_pretrained(dir, { local_files_only: true });
  try {
    const input_ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
    const out = await model.generate({ input_ids, max_new_tokens: 10, do_sample: false }) as Tensor;
    assert.deepEqual(Array.from(out.data as BigInt64Array, Number), [...prompt, next]);
  } finally {
    await model.dispose();
  }
});

test('a folder written by an older Token Lens is refused with a message that says what to do', () => {
  const dir = join(root, 'old');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', token_lens: { config: {
    arch: 'llama', dim: 64, hidden_dim: 172, n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512, seq_len: 512 } } }));
  assert.throws(() => readModelFolderConfig(dir), /written by an older Token Lens.*import or write the model again/);
});
