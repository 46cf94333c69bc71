// The remote engine: a server that returns the prompt's log-probabilities. Either an OpenAI-compatible
// completions server (vLLM: `echo` + `logprobs`, and its `prompt_logprobs` with ranks; SGLang's OpenAI API;
// `token-lens serve`) or SGLang's native `/generate` (token ids and each position's candidates by id),
// which `auto` picks wherever `/get_model_info` answers as SGLang's does. One request scores a text. Servers give log-probabilities, not raw logits, and at most their own number of candidates per
// position (vLLM's --max-logprobs, 20 by default): the distribution shows those, and says so.
// llama.cpp's llama-server and OpenAI's chat API return log-probabilities of generated tokens only; they
// are refused rather than shown with wrong numbers.
import { Analysis } from '../../runtime/analysis';
import { AnalysisCache, DEFAULT_MEMORY_BUDGET_MB, MemoryBudget } from '../../runtime/cache';
import { AnalysisError, type AnalyzeOptions } from '../../runtime/session';
import type { ModelInfo, Token } from '../../types';
import type { Engine, GenerateOptions, SequenceOptions } from '../engine';
import { alignTokens } from './alignTokens';
import { type CompletionChoice, type CompletionRequest, parseCompletion } from './completionsProtocol';
import { RemoteError, requestJson } from './http';
import { serverDistribution } from './serverDistribution';
import { generateToChoice, type GenerateRequest, isSglangModelInfo } from './sglangProtocol';
import type { RemoteApi } from '../load';

export interface RemoteOptions {
  /** The server's base address, e.g. http://gpu-box:8000 (with or without /v1). */
  url: string;
  /** The served model's name; default: the first one the server lists. */
  model?: string;
  apiKey?: string;
  /** Each request's time limit (default 60 s). */
  timeoutMs?: number;
  /** Candidates per position to ask for (default 20; the server may allow fewer). */
  topK?: number;
  /** Default `auto`: SGLang's native API where the server has it, the completions API otherwise. */
  api?: RemoteApi;
  memoryBudgetBytes?: number;
  signal?: AbortSignal;
}

export const REMOTE_MISSING = {
  attention: 'a completions server does not expose attention',
  hiddenStates: 'a completions server does not expose hidden states (no logit lens)',
  gradients: 'a completions server does not compute gradients (occlusion attribution only)',
  training: 'a model on a server cannot be fine-tuned here',
};

export const NO_PROMPT_LOGPROBS = 'does not return log-probabilities of the prompt (llama.cpp\'s llama-server and the OpenAI chat API ' +
  'give them for generated tokens only): Token Lens needs a server such as vLLM (echo + logprobs, or prompt_logprobs), SGLang or `token-lens serve`.';

/** Token-id prompts per request: each answer stays small, and progress and Cancel come between requests. */
const PROMPTS_PER_REQUEST = 16;
const LIMIT_MESSAGE = /greater than max allowed: (\d+)/;
/** Ids for candidates a server names only by their text (legacy `top_logprobs`), above any vocabulary. */
const TEXT_ONLY_IDS = 9_000_000;

export class RemoteEngine implements Engine {
  readonly kind = 'remote' as const;
  readonly missing = REMOTE_MISSING;
  readonly memory: MemoryBudget;
  readonly approximate = undefined;
  private readonly cache: AnalysisCache;
  private readonly textIds = new Map<string, number>();
  private readonly pieces = new Map<number, string>();
  /** What the server allows per position, once it said so. */
  private topK: number;

  private constructor(readonly ref: string, readonly info: ModelInfo, private readonly base: string, private readonly opts: RemoteOptions,
    /** The API this engine speaks to the server (never `auto`). */
    readonly api: 'openai' | 'sglang') {
    this.memory = new MemoryBudget(opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_MB * 2 ** 20);
    this.cache = new AnalysisCache(8, () => this.memory.budgetBytes);
    this.topK = opts.topK ?? 20;
  }

  static async load(opts: RemoteOptions): Promise<RemoteEngine> {
    const root = opts.url.replace(/\/+$/, '').replace(/\/(v1|generate)$/, '');
    const base = root + '/v1';
    const request = { apiKey: opts.apiKey, timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal };
    const listed = await requestJson(`${base}/models`, undefined, request) as
      { data?: { id?: string; max_model_len?: number }[] };
    const models = Array.isArray(listed?.data) ? listed.data.filter((m) => typeof m?.id === 'string') : [];
    if (!models.length) throw new RemoteError(`${base}/models lists no models: is this an OpenAI-compatible server?`);
    const model = opts.model ? models.find((m) => m.id === opts.model) : models[0];
    if (!model) throw new RemoteError(`The server at ${base} does not serve "${opts.model}"; it serves: ${models.map((m) => m.id).join(', ')}.`);
    const info: ModelInfo = {
      id: `${model.id} at ${base}`,
      arch: 'remote',
      vocabSize: opts.topK ?? 20,
      contextLength: model.max_model_len ?? 2048,
      layers: 0,
      heads: 0,
      attention: 'unavailable',
      attentionNote: REMOTE_MISSING.attention,
    };
    const api = opts.api === 'openai' || opts.api === 'sglang' ? opts.api : await detectApi(root, request);
    if (api === 'sglang') info.id = `${model.id} at ${root} (SGLang /generate)`;
    return new RemoteEngine(opts.url, info, base, { ...opts, model: model.id! }, api);
  }

  /** The server's candidates per position (its limit once it named one). */
  get candidatesPerPosition(): number {
    return this.topK;
  }

  tokenize(): Token[] {
    throw new AnalysisError('A remote engine tokenizes on the server: analyse the text instead.');
  }

  tokenText(id: number): string {
    return this.pieces.get(id) ?? `<${id}>`;
  }

  idsOfText(text: string): number[] {
    const id = this.textIds.get(text);
    return id === undefined || id >= TEXT_ONLY_IDS ? [] : [id];
  }

  /**
   * A server names the candidates after the text by their text only (the legacy `top_logprobs` of the token
   * it generates): asks for them by id, as the prompt candidates of the sequence with one more token.
   */
  async nameCandidatesAfter(ids: number[], signal?: AbortSignal): Promise<void> {
    const json = await requestJson(`${this.base}/completions`, {
      model: this.opts.model, prompt: [[...ids, ids[ids.length - 1]]], max_tokens: 0, temperature: 0, echo: true, prompt_logprobs: this.topK,
    } satisfies CompletionRequest, { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal });
    const last = parseCompletion(json, this.base).prompt_logprobs?.[ids.length];
    for (const [id, v] of Object.entries(last ?? {})) {
      if (v.decoded_token != null) { this.pieces.set(Number(id), v.decoded_token); this.textIds.set(v.decoded_token, Number(id)); }
    }
  }

  /**
   * Log p of each of `tokens` after each sequence: one token-id prompt per sequence and token (the sequence
   * then the token), echoed with its log-probabilities and nothing generated; PROMPTS_PER_REQUEST prompts a request.
   */
  async nextLogprobs(rows: number[][], tokens: number[], opts: SequenceOptions = {}): Promise<number[][]> {
    const unnamed = tokens.find((t) => t >= TEXT_ONLY_IDS);
    if (unnamed !== undefined) {
      throw new AnalysisError(`The server named ${JSON.stringify(this.tokenText(unnamed))} by its text only, not its id: give the token's id.`);
    }
    const out: number[][] = [];
    for (let start = 0; start < rows.length; start += PROMPTS_PER_REQUEST) {
      const prompts = rows.slice(start, start + PROMPTS_PER_REQUEST).flatMap((ids) => tokens.map((t) => [...ids, t]));
      const json = await requestJson(`${this.base}/completions`, {
        model: this.opts.model, prompt: prompts, max_tokens: 0, temperature: 0, echo: true, logprobs: 1,
      } satisfies CompletionRequest, { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal: opts.signal });
      const lps = lastLogprobs(json, prompts, this.base);
      for (let j = 0; j < lps.length; j += tokens.length) out.push(lps.slice(j, j + tokens.length));
      opts.onProgress?.(out.length, rows.length);
    }
    return out;
  }

  async analyze(text: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
    if (!text.length) throw new AnalysisError('Nothing to analyse: the text is empty.');
    const cached = opts.fresh ? undefined : this.cache.get(text, 0, false);
    if (cached) return cached;
    const choice = await this.score(text, opts.signal);
    const analysis = this.toAnalysis(text, choice, !!opts.attention);
    this.cache.set(text, 0, false, analysis);
    return analysis;
  }

  private async score(text: string, signal?: AbortSignal): Promise<CompletionChoice> {
    if (this.api === 'sglang') return this.scoreNative(text, signal);
    const body = (k: number): CompletionRequest => ({
      model: this.opts.model, prompt: text, max_tokens: 1, temperature: 0, echo: true, logprobs: k, prompt_logprobs: k, return_token_ids: true,
    });
    const send = (k: number) => requestJson(`${this.base}/completions`, body(k), { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal });
    let json: unknown;
    try {
      json = await send(this.topK);
    } catch (e) {
      // A server that allows fewer candidates says how many: ask again with that many, and remember it.
      const limit = e instanceof RemoteError && e.status === 400 ? LIMIT_MESSAGE.exec(e.message) : null;
      if (!limit) throw e;
      this.topK = Number(limit[1]);
      json = await send(this.topK);
    }
    refuseGeneratedOnly(json, this.base);
    const choice = parseCompletion(json, this.base);
    const echoed = choice.logprobs?.tokens.length ?? 0;
    if (!choice.logprobs || echoed < 2 || !choice.text.startsWith(text)) throw new RemoteError(`The server at ${this.base} ${NO_PROMPT_LOGPROBS}`);
    return choice;
  }

  /** SGLang's /generate: every prompt token's logprob and top candidates by id, one token generated. */
  private async scoreNative(text: string, signal?: AbortSignal): Promise<CompletionChoice> {
    const where = this.base.replace(/\/v1$/, '');
    const body: GenerateRequest = {
      text, sampling_params: { max_new_tokens: 1, temperature: 0 },
      return_logprob: true, logprob_start_len: 0, top_logprobs_num: this.topK, return_text_in_logprobs: true,
    };
    const json = await requestJson(`${where}/generate`, body, { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal });
    return generateToChoice(json, text, where);
  }

  private idOf(piece: string): number {
    let id = this.textIds.get(piece);
    if (id === undefined) {
      id = TEXT_ONLY_IDS + this.textIds.size;
      this.textIds.set(piece, id);
      this.pieces.set(id, piece);
    }
    return id;
  }

  private toAnalysis(text: string, c: CompletionChoice, wantAttention: boolean): Analysis {
    const lp = c.logprobs!;
    const P = c.prompt_token_ids?.length ?? c.prompt_logprobs?.length ?? lp.tokens.length - 1;
    const pieces = lp.tokens.slice(0, P);
    const plp = c.prompt_logprobs ?? null;
    // Ids: the server's when it gives them (vLLM's prompt_token_ids, or the prompt_logprobs entry of the token).
    const ids = pieces.map((piece, t) => {
      const given = c.prompt_token_ids?.[t] ?? idByText(plp?.[t], piece);
      const id = given ?? this.idOf(piece);
      this.pieces.set(id, piece);
      return id;
    });
    // The generated token (the greedy top-1 after the text) is named by id too.
    if (c.token_ids?.length && lp.tokens.length > P) { this.pieces.set(c.token_ids[0], lp.tokens[P]); this.textIds.set(lp.tokens[P], c.token_ids[0]); }
    for (const entry of plp ?? []) for (const [id, v] of Object.entries(entry ?? {})) if (v.decoded_token != null) { this.pieces.set(Number(id), v.decoded_token); this.textIds.set(v.decoded_token, Number(id)); }
    // As many candidates per position as the server gave (at most what was asked).
    const given = [...(plp ?? []).map((e) => Object.keys(e ?? {}).length), ...lp.top_logprobs.map((e) => Object.keys(e ?? {}).length)];
    const K = Math.max(1, Math.min(this.topK, Math.max(...given)));
    const aligned = alignTokens(text, pieces, ids, (t) => t === 0 && lp.token_logprobs[0] === null && !text.startsWith(pieces[0].replace(/^[ \u2581]/, '')));
    const targetLogprob = new Float32Array(P);
    const logSumExp = new Float32Array(P);
    const ranks = new Int32Array(P);
    const topIds = new Int32Array(P * K).fill(-1);
    const topLogits = new Float32Array(P * K).fill(-Infinity);
    for (let t = 1; t <= P; t++) {
      // Candidates for the token at t (the last: the generated token's position, from the legacy block).
      const entries: [number, number][] = plp?.[t]
        ? Object.entries(plp[t]!).map(([id, v]) => [Number(id), v.logprob])
        : Object.entries(lp.top_logprobs[t] ?? {}).map(([piece, logprob]) => [this.textIds.get(piece) ?? this.idOf(piece), logprob]);
      entries.sort((x, y) => y[1] - x[1]);
      if (t < P) {
        const own = plp?.[t]?.[ids[t]];
        targetLogprob[t - 1] = own?.logprob ?? lp.token_logprobs[t] ?? NaN;
        ranks[t - 1] = own?.rank ?? 1 + entries.filter(([, v]) => v > targetLogprob[t - 1]).length;
      }
      const shown = entries.filter(([id]) => !(t < P && id === ids[t] && (plp?.[t]?.[id]?.rank ?? 0) > K)).slice(0, K);
      shown.forEach(([id, v], j) => { topIds[(t - 1) * K + j] = id; topLogits[(t - 1) * K + j] = v; });
    }
    const note = aligned.unaligned ? `The server's tokens do not spell the text at ${aligned.unaligned} place(s) (byte pieces or normalisation): their offsets there are inferred.` : undefined;
    const analysis = new Analysis({
      modelId: this.ref,
      text,
      tokens: aligned.tokens,
      vocabSize: K,
      window: { firstToken: 0, totalTokens: P, counted: true, start: 0, end: text.length, truncated: false },
      attention: null,
      attentionNote: wantAttention ? REMOTE_MISSING.attention : undefined,
      approximate: [note, `The server returns its top ${K} candidates per position: distributions show those.`].filter(Boolean).join(' '),
      decode: (id) => this.tokenText(id),
      scores: { targetLogprob, logSumExp },
      ranked: { ranks, top: { k: K, ids: topIds, logits: topLogits } },
      memory: this.memory,
      recompute: () => Promise.reject(new Error('remote analyses have no logits')),
      // The full row is what the server gave: its top K as log-probabilities, every other token unknown.
      rowIds: (position) => topIds.subarray(position * K, (position + 1) * K),
      distribute: serverDistribution,
      fetchRow: async (position) => {
        const row = new Float32Array(K).fill(-Infinity);
        for (let j = 0; j < K; j++) if (topIds[position * K + j] >= 0) row[j] = topLogits[position * K + j];
        return row;
      },
    });
    return analysis;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<string> {
    if (this.api === 'sglang') {
      const where = this.base.replace(/\/v1$/, '');
      const body: GenerateRequest = { text: prompt, sampling_params: { max_new_tokens: opts.maxNewTokens ?? 128, temperature: opts.greedy ? 0 : opts.temperature ?? 1 } };
      const json = await requestJson(`${where}/generate`, body, { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal: opts.signal }) as { text?: unknown };
      if (typeof json?.text !== 'string') throw new RemoteError(`${where}/generate answered without a text.`);
      return json.text;
    }
    const json = await requestJson(`${this.base}/completions`, {
      model: this.opts.model, prompt, max_tokens: opts.maxNewTokens ?? 128, temperature: opts.greedy ? 0 : opts.temperature ?? 1,
    }, { apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs ?? 60_000, signal: opts.signal });
    return parseCompletion(json, this.base).text;
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    this.memory.clear();
  }
}

/** SGLang's servers answer GET /get_model_info with the model's path; other servers have no such route. */
async function detectApi(root: string, request: { apiKey?: string; timeoutMs: number; signal?: AbortSignal }): Promise<'openai' | 'sglang'> {
  try {
    return isSglangModelInfo(await requestJson(`${root}/get_model_info`, undefined, request)) ? 'sglang' : 'openai';
  } catch (e) {
    // No such route (404), or an answer that is not JSON: not SGLang. Only a cancel stops the load.
    if (request.signal?.aborted) throw e;
    return 'openai';
  }
}

/** llama-server's and the chat API's answers carry log-probabilities of generated tokens only. */
function refuseGeneratedOnly(json: unknown, base: string): void {
  const r = json as { object?: string; choices?: { logprobs?: { content?: unknown; tokens?: unknown } | null; message?: unknown }[] } | null;
  const c = r?.choices?.[0];
  if (r?.object === 'chat.completion' || c?.message !== undefined || (c?.logprobs && 'content' in c.logprobs && !('tokens' in c.logprobs)) || (c && !c.logprobs)) {
    throw new RemoteError(`The server at ${base} ${NO_PROMPT_LOGPROBS}`);
  }
}

/** The log-probability of each prompt's last token, from the echoed prompts (choices in any order). */
function lastLogprobs(json: unknown, prompts: number[][], base: string): number[] {
  const choices = (json as { choices?: { index?: unknown }[] } | null)?.choices;
  if (!Array.isArray(choices) || choices.length !== prompts.length) {
    throw new RemoteError(`The server at ${base} answered ${Array.isArray(choices) ? choices.length : 'no'} choices for ${prompts.length} token-id prompts: it needs to accept a list of token-id prompts, as vLLM does.`);
  }
  const out = new Array<number>(prompts.length);
  choices.forEach((raw, j) => {
    const i = typeof raw?.index === 'number' ? raw.index : j;
    const c = parseCompletion({ choices: [raw] }, base);
    const lp = c.logprobs?.token_logprobs;
    const last = lp?.[prompts[i]?.length - 1];
    if (!lp || lp.length < prompts[i].length || typeof last !== 'number') throw new RemoteError(`The server at ${base} ${NO_PROMPT_LOGPROBS}`);
    out[i] = last;
  });
  return out;
}

function idByText(entry: Record<string, { decoded_token: string | null }> | null | undefined, piece: string): number | undefined {
  const hit = Object.entries(entry ?? {}).find(([, v]) => v.decoded_token === piece);
  return hit ? Number(hit[0]) : undefined;
}
