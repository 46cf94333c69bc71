import { exportGguf } from '../src/core/gguf/exportGguf';
(async () => {
  console.log(await exportGguf('/work/wt/engines/dist/models/stories260K', '/tmp/s260.gguf'));
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: '/tmp/s260.gguf' });
  const ctx = await model.createContext({ contextSize: 512, batchSize: 512, threads: 2, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } as never);
  const seq = ctx.getSequence();
  const text = 'Once upon a time, there was a little girl named Lily.';
  const ids = [1, ...model.tokenize(text)];
  console.log(ids.join(','));
  const res = await seq.controlledEvaluate(ids.map((t, i) => [t, { generateNext: { totalLogitWeight: true, logits: { filter: { tokens: i + 1 < ids.length ? [ids[i + 1]] : [], includeSelected: true, includeTop: 5 } } } }] as never));
  const losses = res.map((r, i) => { if (i + 1 >= ids.length) return null; const l = r!.next.logits!; const max = [...l.values()][0]; return -(l.get(ids[i + 1])! - max - Math.log(r!.next.totalLogitWeight!)); });
  console.log(losses.slice(0, 8));
  const mean = losses.filter((x) => x !== null).reduce((a, b) => a + b!, 0) / (ids.length - 1);
  console.log('mean', mean, model.tokens.bos, (model as any).fileInfo?.metadata?.tokenizer?.ggml?.add_bos_token);
})();
