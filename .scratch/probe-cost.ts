(async () => {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: process.argv[2] });
  const ctx = await model.createContext({ contextSize: 512, batchSize: 512, threads: 2, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } as never);
  const seq = ctx.getSequence();
  const V = model.tokens ? (model as any).fileInsights?.vocabularySize ?? 0 : 0;
  const ids = [1]; while (ids.length < 512) ids.push(3 + ((ids.length * 7919) % 500));
  const run = async (name: string, opt: (i: number) => unknown) => {
    const ts: number[] = [];
    for (let r = 0; r < 5; r++) {
      await seq.clearHistory();
      const t0 = performance.now();
      await seq.controlledEvaluate(ids.map((t, i) => (opt(i) ? [t, opt(i)] : t)) as never);
      ts.push(performance.now() - t0);
    }
    ts.sort((a, b) => a - b);
    console.log(name, ts.map((x) => x.toFixed(1)).join(' '));
  };
  await run('decode', (i) => (i === ids.length - 1 ? { generateNext: { totalLogitWeight: true } } : undefined));
  await run('target+Z', (i) => ({ generateNext: { totalLogitWeight: true, logits: { filter: { tokens: [ids[(i + 1) % 512]] } } } }));
  await run('top10', (i) => ({ generateNext: { totalLogitWeight: true, logits: { filter: { tokens: [ids[(i + 1) % 512]], includeTop: 10 } } } }));
  await run('top100', (i) => ({ generateNext: { totalLogitWeight: true, logits: { filter: { tokens: [ids[(i + 1) % 512]], includeTop: 100 } } } }));
  await run('full', (i) => ({ generateNext: { logits: true } }));
  console.log('V', V);
})();
