// SGLang's native API, as far as scoring a text needs it: `POST /generate` with `return_logprob`,
// `logprob_start_len: 0` (from the first prompt token), `top_logprobs_num` and `return_text_in_logprobs`,
// whose `meta_info` carries each prompt token as [logprob, token_id, text] and each position's top
// candidates as lists of such triples; and `GET /get_model_info`, which tells an SGLang server apart.
// A response becomes the completions choice the remote engine already reads (ids, ranks by position).
import type { CompletionChoice, Logprob } from './completionsProtocol';
import { MalformedResponseError } from './completionsProtocol';

export interface GenerateRequest {
  text: string;
  sampling_params?: { max_new_tokens?: number; temperature?: number };
  return_logprob?: boolean;
  logprob_start_len?: number;
  top_logprobs_num?: number;
  return_text_in_logprobs?: boolean;
  stream?: boolean;
}

/** [logprob (null for the first prompt token), token id, text (null unless return_text_in_logprobs)]. */
export type TokenLogprob = [number | null, number, string | null];

export interface GenerateResponse {
  text: string;
  output_ids: number[];
  meta_info: {
    id: string;
    finish_reason: { type: string; length?: number } | null;
    prompt_tokens: number;
    completion_tokens: number;
    cached_tokens: number;
    input_token_logprobs?: TokenLogprob[];
    output_token_logprobs?: TokenLogprob[];
    input_top_logprobs?: (TokenLogprob[] | null)[];
    output_top_logprobs?: (TokenLogprob[] | null)[];
    e2e_latency: number;
  };
}

export interface ModelInfoResponse {
  model_path: string;
  tokenizer_path: string | null;
  is_generation: boolean;
}

const isTriple = (v: unknown): v is TokenLogprob => Array.isArray(v) && v.length >= 2 &&
  (v[0] === null || (typeof v[0] === 'number' && Number.isFinite(v[0]))) && Number.isInteger(v[1]) && (v[2] === undefined || v[2] === null || typeof v[2] === 'string');

/** `/generate`'s answer as the completions choice of `prompt` echoed with one generated token. */
export function generateToChoice(json: unknown, prompt: string, where: string): CompletionChoice {
  const bad = (what: string) => new MalformedResponseError(`${where} answered JSON that is not a /generate response: ${what}.`);
  const r = json as Partial<GenerateResponse> | null;
  if (!r || typeof r !== 'object' || typeof r.text !== 'string' || !r.meta_info || typeof r.meta_info !== 'object') throw bad('no text or meta_info');
  const m = r.meta_info;
  const input = m.input_token_logprobs;
  if (!Array.isArray(input) || !input.length) throw bad('meta_info.input_token_logprobs is missing (was return_logprob honoured?)');
  if (!input.every(isTriple)) throw bad('meta_info.input_token_logprobs is not a list of [logprob, token_id, text]');
  const output = (m.output_token_logprobs ?? []).slice(0, 1);
  if (!output.every(isTriple)) throw bad('meta_info.output_token_logprobs is not a list of [logprob, token_id, text]');
  const tops = [...(m.input_top_logprobs ?? []), ...(m.output_top_logprobs ?? []).slice(0, 1)];
  for (const top of tops) if (top !== null && (!Array.isArray(top) || !top.every(isTriple))) throw bad('a top_logprobs entry is not a list of [logprob, token_id, text]');
  const triples = [...input, ...output];
  const piece = ([, id, text]: TokenLogprob) => text ?? `<${id}>`;
  // Position t's candidates are those for token t: the first prompt token has none.
  const candidates = (t: number) => tops[t] ?? null;
  return {
    index: 0,
    text: prompt + (output.length ? r.text : ''),
    logprobs: {
      text_offset: triples.map(() => -1),
      token_logprobs: triples.map(([lp], t) => (t === 0 ? null : lp)),
      tokens: triples.map(piece),
      top_logprobs: triples.map((_, t) => {
        const top = candidates(t);
        return top ? Object.fromEntries(top.filter((c) => c[0] !== null).map((c) => [piece(c), c[0] as number])) : null;
      }),
    },
    finish_reason: m.finish_reason?.type ?? null,
    stop_reason: null,
    // Ids and candidates by position, the generated token's position included (vLLM stops at the prompt).
    prompt_logprobs: triples.map((_, t) => {
      const top = candidates(t);
      if (!top) return null;
      const entry: Record<string, Logprob> = {};
      top.forEach((c, j) => { if (c[0] !== null) entry[c[1]] ??= { logprob: c[0], rank: j + 1, decoded_token: c[2] ?? null }; });
      return entry;
    }),
    prompt_token_ids: input.map(([, id]) => id),
  };
}

/** Whether `/get_model_info` answered as SGLang documents it. */
export function isSglangModelInfo(json: unknown): json is ModelInfoResponse {
  const r = json as Partial<ModelInfoResponse> | null;
  return !!r && typeof r === 'object' && typeof r.model_path === 'string' && typeof r.is_generation === 'boolean';
}
