// token-lens serve: a local engine (ONNX or GGUF) behind vLLM's completions API and SGLang's native /generate
// on this machine's network.
import { UsageError, commonModelOptions, intOption, parse } from './args';
import { loadModel } from './load';

const USAGE = `usage: token-lens serve [--model DIR|HUB_ID|FILE.gguf|ollama:NAME] [--port P] [--host H]
         [--served-model-name NAME] [--max-logprobs N]   (API key: TOKEN_LENS_SERVE_API_KEY)`;

export async function runServe(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...commonModelOptions,
    port: { type: 'string' },
    host: { type: 'string' },
    'served-model-name': { type: 'string' },
    'max-logprobs': { type: 'string' },
  }, USAGE);
  if (positionals.length) throw new UsageError(`serve takes no TEXT\n\n${USAGE}`);
  const port = intOption(values.port, 'port', 8000, 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const maxLogprobs = intOption(values['max-logprobs'], 'max-logprobs', 20, 1, 1000);
  const engine = await loadModel(values);
  const { createCompletionsServer } = await import('../core/engines/remote/completionsServer');
  const name = values['served-model-name'] ?? engine.ref;
  const server = createCompletionsServer(engine, { modelName: name, maxLogprobs, apiKey: process.env.TOKEN_LENS_SERVE_API_KEY || undefined });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UsageError(e.code === 'EADDRINUSE' ? `port ${port} is in use: give another with --port` : e.message)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`serving ${name} (${engine.kind}) at http://${host}:${actual}/v1 (POST /v1/completions, GET /v1/models; SGLang's POST /generate)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await engine.dispose();
  return 0;
}
