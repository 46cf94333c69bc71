// vLLM's OpenAI-compatible completions API, as far as scoring a text needs it: the request, the response
// and the checks that a response has that shape. The legacy `logprobs` block (OpenAI's) carries the
// echoed prompt's tokens as strings, their log-probabilities, each position's top candidates by text and
// `text_offset` (character offsets, counted in code points as Python counts them); vLLM's
// `prompt_logprobs` adds token ids and each token's rank in the whole vocabulary.

export interface CompletionRequest {
  model?: string;
  prompt: string | string[] | number[] | number[][];
  max_tokens?: number;
  temperature?: number;
  echo?: boolean;
  logprobs?: number | null;
  /** vLLM: top candidates per prompt position, with ranks (-1: the whole vocabulary). */
  prompt_logprobs?: number | null;
  /** vLLM: also return `prompt_token_ids` and `token_ids`. */
  return_token_ids?: boolean;
  stream?: boolean;
}

export interface CompletionLogProbs {
  text_offset: number[];
  token_logprobs: (number | null)[];
  tokens: string[];
  top_logprobs: (Record<string, number> | null)[];
}

export interface Logprob {
  logprob: number;
  rank: number | null;
  decoded_token: string | null;
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogProbs | null;
  finish_reason: string | null;
  stop_reason: number | string | null;
  /** One entry per prompt token (null for the first): token id (as a JSON key) -> its Logprob. */
  prompt_logprobs?: (Record<string, Logprob> | null)[] | null;
  prompt_token_ids?: number[] | null;
  token_ids?: number[] | null;
}

export interface CompletionResponse {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage: { prompt_tokens: number; total_tokens: number; completion_tokens: number; prompt_tokens_details: null };
}

export class MalformedResponseError extends Error {}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown) => v === null || isNum(v);

/** The response's first choice, checked field by field: a server that answers otherwise is named. */
export function parseCompletion(json: unknown, where: string): CompletionChoice {
  const bad = (what: string) => new MalformedResponseError(`${where} answered JSON that is not a completions response: ${what}.`);
  const r = json as Partial<CompletionResponse> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.choices) || !r.choices.length) throw bad('no choices');
  const c = r.choices[0] as Partial<CompletionChoice>;
  if (typeof c.text !== 'string') throw bad('choices[0].text is missing');
  const lp = c.logprobs;
  if (lp != null) {
    const n = lp.tokens?.length;
    if (!Array.isArray(lp.tokens) || !lp.tokens.every((t) => typeof t === 'string')) throw bad('logprobs.tokens is not a list of strings');
    if (!Array.isArray(lp.token_logprobs) || lp.token_logprobs.length !== n || !lp.token_logprobs.every(isNumOrNull)) throw bad('logprobs.token_logprobs does not match tokens');
    if (!Array.isArray(lp.text_offset) || lp.text_offset.length !== n || !lp.text_offset.every(isNum)) throw bad('logprobs.text_offset does not match tokens');
    if (!Array.isArray(lp.top_logprobs) || lp.top_logprobs.length !== n) throw bad('logprobs.top_logprobs does not match tokens');
    for (const top of lp.top_logprobs) {
      if (top !== null && (typeof top !== 'object' || !Object.values(top).every(isNum))) throw bad('logprobs.top_logprobs holds a non-number');
    }
  }
  if (c.prompt_logprobs != null) {
    if (!Array.isArray(c.prompt_logprobs)) throw bad('prompt_logprobs is not a list');
    for (const entry of c.prompt_logprobs) {
      if (entry === null) continue;
      if (typeof entry !== 'object') throw bad('prompt_logprobs holds a non-object');
      for (const [id, v] of Object.entries(entry)) {
        if (!/^\d+$/.test(id) || !v || !isNum(v.logprob) || !(v.rank === null || v.rank === undefined || isNum(v.rank))) throw bad(`prompt_logprobs entry ${id} is malformed`);
      }
    }
  }
  if (c.prompt_token_ids != null && (!Array.isArray(c.prompt_token_ids) || !c.prompt_token_ids.every(isNum))) throw bad('prompt_token_ids is not a list of ids');
  return c as CompletionChoice;
}

/** Python's str offsets (code points) of `text` -> UTF-16 offsets. */
export function codePointToUtf16(text: string): (cp: number) => number {
  const map: number[] = [0];
  for (let u = 0; u < text.length;) {
    u += text.codePointAt(u)! > 0xffff ? 2 : 1;
    map.push(u);
  }
  return (cp) => map[Math.max(0, Math.min(cp, map.length - 1))];
}

/** UTF-16 offset -> code points. */
export function utf16ToCodePoint(text: string, offset: number): number {
  let cp = 0;
  for (let u = 0; u < offset && u < text.length; cp++) u += text.codePointAt(u)! > 0xffff ? 2 : 1;
  return cp;
}
