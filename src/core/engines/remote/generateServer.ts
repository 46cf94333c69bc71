// `token-lens serve`'s answer to SGLang's native API: POST /generate (text in; with `return_logprob`,
// each token from `logprob_start_len` on as [logprob, token_id, text] and `top_logprobs_num` candidates per
// position) and GET /get_model_info, in SGLang's shapes, so that a client written for SGLang works here.
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine';
import type { Analysis } from '../../runtime/analysis';
import { candidates, continueAndScore, HttpError } from './completionsServer';
import type { GenerateRequest, GenerateResponse, ModelInfoResponse, TokenLogprob } from './sglangProtocol';

export function modelInfo(name: string): ModelInfoResponse {
  return { model_path: name, tokenizer_path: name, is_generation: true };
}

export async function generate(engine: Engine, r: GenerateRequest): Promise<GenerateResponse> {
  const started = Date.now();
  if (typeof r.text !== 'string' || !r.text.length) throw new HttpError(400, 'text must be one non-empty string.');
  if (r.stream) throw new HttpError(400, 'Streaming is not supported by token-lens serve.');
  const maxTokens = r.sampling_params?.max_new_tokens ?? 128;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new HttpError(400, 'max_new_tokens must be a non-negative integer.');
  const k = r.top_logprobs_num ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new HttpError(400, 'top_logprobs_num must be a non-negative integer.');
  // SGLang's default start (-1) returns the generated tokens' logprobs only.
  const start = r.logprob_start_len ?? -1;
  if (!Number.isInteger(start) || start < -1) throw new HttpError(400, 'logprob_start_len must be -1 or a prompt position.');
  const { a, generated, nPrompt, genTokens } = await continueAndScore(engine, r.text, maxTokens, r.sampling_params?.temperature ?? 1);
  const withText = !!r.return_text_in_logprobs;
  const triple = (id: number, logprob: number | null): TokenLogprob => [logprob, id, withText ? engine.tokenText(id) : null];
  const tokenLogprobs = (from: number, to: number) => range(from, to).map((t) => triple(a.tokens[t].id, t === 0 ? null : -a.tokens[t].loss!));
  const topLogprobs = (from: number, to: number) => range(from, to).map((t) => (t === 0 ? null : top(a, t, k, triple)));
  const inputFrom = start < 0 ? nPrompt : Math.min(start, nPrompt);
  const logprobs = r.return_logprob ? {
    input_token_logprobs: tokenLogprobs(inputFrom, nPrompt),
    output_token_logprobs: tokenLogprobs(nPrompt, nPrompt + genTokens),
    ...(k > 0 ? { input_top_logprobs: topLogprobs(inputFrom, nPrompt), output_top_logprobs: topLogprobs(nPrompt, nPrompt + genTokens) } : {}),
  } : {};
  return {
    text: generated,
    output_ids: a.tokens.slice(nPrompt, nPrompt + genTokens).map((t) => t.id),
    meta_info: {
      id: randomBytes(16).toString('hex'),
      finish_reason: { type: 'length', length: genTokens },
      prompt_tokens: nPrompt,
      completion_tokens: genTokens,
      cached_tokens: 0,
      ...logprobs,
      e2e_latency: (Date.now() - started) / 1000,
    },
  };
}

/** The candidates for the token at t, best first, as SGLang lists them. */
function top(a: Analysis, t: number, k: number, triple: (id: number, logprob: number) => TokenLogprob): TokenLogprob[] {
  return candidates(a, t, k).map((c) => triple(c.id, c.logprob));
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
