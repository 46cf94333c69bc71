// `token-lens serve`: any local engine behind vLLM's OpenAI-compatible completions API, so that a team can
// share one machine's model and the remote engine can be tested against a real server. It answers
// POST /v1/completions (prompt scoring with `echo` + `logprobs`, vLLM's `prompt_logprobs` with ranks and
// `return_token_ids`, greedy or sampled continuations; token-id prompts are scored only, see
// tokenIdPrompts.ts) and GET /v1/models, in vLLM's shapes, and SGLang's native POST /generate and
// GET /get_model_info (generateServer.ts).
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { Engine } from '../engine';
import type { Analysis } from '../../runtime/analysis';
import type { CompletionChoice, CompletionLogProbs, CompletionRequest, CompletionResponse, Logprob } from './completionsProtocol';
import { utf16ToCodePoint } from './completionsProtocol';
import { generate, modelInfo } from './generateServer';
import type { GenerateRequest } from './sglangProtocol';
import { PromptError, scoreTokenIdPrompts, tokenIdPrompts } from './tokenIdPrompts';

export interface ServeOptions {
  /** The name clients use in `model` (default: the engine's ref). */
  modelName?: string;
  /** Requests must carry `Authorization: Bearer KEY` when set. */
  apiKey?: string;
  /** The most candidates per position a request may ask for (vLLM's --max-logprobs, default 20). */
  maxLogprobs?: number;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly type = 'BadRequestError') {
    super(message);
  }
}

export function createCompletionsServer(engine: Engine, opts: ServeOptions = {}): http.Server {
  const name = opts.modelName ?? engine.ref;
  const maxLogprobs = opts.maxLogprobs ?? 20;
  // One request at a time: an engine runs one evaluation at a time anyway.
  let queue: Promise<unknown> = Promise.resolve();
  return http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const data = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length });
      res.end(data);
    };
    const fail = (e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, (e as Error).message, 'InternalServerError');
      send(err.status, { error: { message: err.message, type: err.type, param: null, code: err.status } });
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const run = queue.then(async () => {
        if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) throw new HttpError(401, 'Invalid API key', 'AuthenticationError');
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (req.method === 'GET' && url.pathname === '/v1/models') {
          return send(200, { object: 'list', data: [{ id: name, object: 'model', created: now(), owned_by: 'token-lens', root: name, parent: null, max_model_len: engine.info.contextLength, permission: [] }] });
        }
        if (req.method === 'GET' && url.pathname === '/get_model_info') return send(200, modelInfo(name));
        const route = `${req.method} ${url.pathname}`;
        if (route !== 'POST /v1/completions' && route !== 'POST /generate') {
          throw new HttpError(404, `No ${route} here: POST /v1/completions, GET /v1/models, POST /generate or GET /get_model_info.`, 'NotFoundError');
        }
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw new HttpError(400, 'The request body is not valid JSON.');
        }
        send(200, route === 'POST /generate' ? await generate(engine, body as GenerateRequest) : await complete(engine, name, body as CompletionRequest, maxLogprobs));
      }).catch(fail);
      queue = run.catch(() => undefined);
    });
  });
}

const now = () => Math.floor(Date.now() / 1000);

async function complete(engine: Engine, name: string, r: CompletionRequest, maxLogprobs: number): Promise<CompletionResponse> {
  if (r.model !== undefined && r.model !== name) throw new HttpError(404, `The model \`${r.model}\` does not exist.`, 'NotFoundError');
  if (r.stream) throw new HttpError(400, 'Streaming is not supported by token-lens serve.');
  const maxTokens = r.max_tokens ?? 16;
  const k = r.logprobs ?? null;
  const promptK = r.prompt_logprobs ?? null;
  for (const [what, v] of [['sample', k], ['prompt', promptK]] as const) {
    if (v !== null && (!Number.isInteger(v) || v < 0)) throw new HttpError(400, `${what} logprobs must be a non-negative integer.`);
    if (v !== null && v > maxLogprobs) throw new HttpError(400, `Requested ${what} logprobs of ${v}, which is greater than max allowed: ${maxLogprobs}`);
  }
  const idRows = asBadRequest(() => tokenIdPrompts(r.prompt));
  if (idRows) return response(name, await asBadRequest(() => scoreTokenIdPrompts(engine, idRows, r)), idRows.reduce((n, ids) => n + ids.length, 0), 0);
  const prompt = Array.isArray(r.prompt) ? (r.prompt.length === 1 ? r.prompt[0] : undefined) : r.prompt;
  if (typeof prompt !== 'string' || !prompt.length) throw new HttpError(400, 'prompt must be one non-empty string, or token ids.');
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new HttpError(400, 'max_tokens must be a non-negative integer.');
  const { promptAnalysis, a, generated, nPrompt, genTokens } = await continueAndScore(engine, prompt, maxTokens, r.temperature ?? 1);
  const text = r.echo ? prompt + generated : generated;
  const wanted = [...(r.echo ? range(0, nPrompt) : []), ...range(nPrompt, nPrompt + genTokens)];
  const choice: CompletionChoice = {
    index: 0,
    text,
    logprobs: k === null ? null : legacyLogprobs(engine, a, wanted, Math.max(k, 0)),
    finish_reason: 'length',
    stop_reason: null,
    prompt_logprobs: promptK === null && !(r.echo && k !== null) ? null : promptLogprobs(engine, promptAnalysis, promptK ?? k ?? 0),
    ...(r.return_token_ids ? { prompt_token_ids: promptAnalysis.tokens.map((t) => t.id), token_ids: a.tokens.slice(nPrompt, nPrompt + genTokens).map((t) => t.id) } : {}),
  };
  return response(name, [choice], nPrompt, genTokens);
}

function response(name: string, choices: CompletionChoice[], promptTokens: number, generated: number): CompletionResponse {
  return {
    id: `cmpl-${randomBytes(16).toString('hex')}`,
    object: 'text_completion',
    created: now(),
    model: name,
    choices,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens + generated, completion_tokens: generated, prompt_tokens_details: null },
  };
}

export interface Scored {
  promptAnalysis: Analysis;
  /** The analysis of prompt + continuation (the prompt's alone when the two tokenize apart). */
  a: Analysis;
  generated: string;
  nPrompt: number;
  genTokens: number;
}

/** The continuation first, then one evaluation of prompt + continuation scores both. */
export async function continueAndScore(engine: Engine, prompt: string, maxTokens: number, temperature: number): Promise<Scored> {
  const greedy = temperature === 0;
  const promptAnalysis = await engine.analyze(prompt);
  const generated = maxTokens === 0 ? '' : maxTokens === 1 && greedy
    ? engine.tokenText(promptAnalysis.topK(promptAnalysis.tokens.length - 1, 1)[0].id)
    : await engine.generate(prompt, { maxNewTokens: maxTokens, greedy, temperature });
  const nPrompt = promptAnalysis.tokens.length;
  const full = generated ? await engine.analyze(prompt + generated) : promptAnalysis;
  // The continuation's tokens are those after the prompt's, when the prompt tokenizes the same within the whole.
  const samePrefix = full.tokens.length > nPrompt && promptAnalysis.tokens.every((t, i) => t.id === full.tokens[i].id);
  const genTokens = generated && samePrefix ? full.tokens.length - nPrompt : 0;
  return { promptAnalysis, a: samePrefix ? full : promptAnalysis, generated, nPrompt, genTokens };
}

/** A prompt the engine cannot take is the request's fault (400), not the server's. */
function asBadRequest<T>(work: () => T): T {
  const bad = (e: unknown) => { throw e instanceof PromptError ? new HttpError(400, e.message) : e; };
  try {
    const out = work();
    return (out instanceof Promise ? out.catch(bad) : out) as T;
  } catch (e) {
    return bad(e);
  }
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** Candidates after position t - 1 (the ones for token t), with the actual token, as log-probabilities. */
export function candidates(a: Analysis, t: number, k: number): { id: number; logprob: number }[] {
  return a.topK(t - 1, Math.min(k, a.vocabSize)).map((c) => ({ id: c.id, logprob: Math.log(c.prob) }));
}

function legacyLogprobs(engine: Engine, a: Analysis, positions: number[], k: number): CompletionLogProbs {
  const out: CompletionLogProbs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let offset = 0;
  for (const t of positions) {
    const token = a.tokens[t];
    const text = engine.tokenText(token.id);
    out.tokens.push(text);
    // vLLM counts offsets from the tokens' own texts, in code points.
    out.text_offset.push(offset);
    offset += utf16ToCodePoint(text, text.length);
    out.token_logprobs.push(token.loss === null ? null : -token.loss);
    if (t === 0) { out.top_logprobs.push(null); continue; }
    const top: Record<string, number> = {};
    for (const c of candidates(a, t, k)) top[engine.tokenText(c.id)] ??= c.logprob;
    top[text] ??= -token.loss!;
    out.top_logprobs.push(top);
  }
  return out;
}

function promptLogprobs(engine: Engine, a: Analysis, k: number): (Record<string, Logprob> | null)[] {
  return a.tokens.map((token, t) => {
    if (t === 0) return null;
    const entry: Record<string, Logprob> = {};
    entry[token.id] = { logprob: -token.loss!, rank: token.rank, decoded_token: engine.tokenText(token.id) };
    candidates(a, t, k).forEach((c, j) => {
      entry[c.id] ??= { logprob: c.logprob, rank: j + 1, decoded_token: engine.tokenText(c.id) };
    });
    return entry;
  });
}
