// `token-lens serve` for token-id prompts, as vLLM takes them: a list of ids, or a list of such lists (one
// choice each). Each sequence is scored as it is, no BOS added, its tokens echoed with their
// log-probabilities; nothing is generated. Occlusion asks for exactly this: sequences no text spells (a text
// without its BOS, say), each followed by the token whose log-probability it wants.
import type { ModelSession } from '../../runtime/session';
import type { Engine } from '../engine';
import type { LlamaEngine } from '../llama/llamaEngine';
import type { CompletionChoice, CompletionLogProbs, CompletionRequest, Logprob } from './completionsProtocol';
import { utf16ToCodePoint } from './completionsProtocol';

export class PromptError extends Error {}

const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** The prompt's token-id sequences, or undefined when it is text. */
export function tokenIdPrompts(prompt: CompletionRequest['prompt']): number[][] | undefined {
  if (!Array.isArray(prompt) || !prompt.length || typeof prompt[0] === 'string') return undefined;
  const rows = (Array.isArray(prompt[0]) ? prompt : [prompt]) as unknown[];
  if (!rows.every((r) => Array.isArray(r) && r.length > 0 && r.every(isId))) {
    throw new PromptError('prompt must be text, a list of token ids, or a list of non-empty lists of token ids.');
  }
  return rows as number[][];
}

/** Every row of logits of a sequence (position t: after token t), from an engine that has them. */
async function logitsOf(engine: Engine, ids: number[]): Promise<Float32Array[]> {
  const positions = ids.map((_, t) => t);
  if (engine.kind === 'llama.cpp') return (engine as LlamaEngine).logitsAt(ids, positions);
  if (engine.kind !== 'onnx') throw new PromptError(`a ${engine.kind} engine cannot score token-id prompts.`);
  const logits = (await (engine as ModelSession).run([ids], ['logits'])).logits;
  const V = logits.dims[2];
  const data = logits.data as Float32Array;
  return positions.map((t) => data.subarray(t * V, (t + 1) * V));
}

export async function scoreTokenIdPrompts(engine: Engine, rows: number[][], r: CompletionRequest): Promise<CompletionChoice[]> {
  if ((r.max_tokens ?? 16) !== 0) throw new PromptError('token-lens serve scores token-id prompts but does not continue them: max_tokens must be 0.');
  const V = engine.info.vocabSize;
  for (const ids of rows) {
    const bad = ids.find((id) => id >= V);
    if (bad !== undefined) throw new PromptError(`Token id ${bad} is out of vocabulary (0 to ${V - 1}).`);
    if (ids.length > engine.info.contextLength) throw new PromptError(`A prompt of ${ids.length} tokens exceeds the context (${engine.info.contextLength}).`);
  }
  const k = r.logprobs ?? null;
  const promptK = r.prompt_logprobs ?? null;
  const choices: CompletionChoice[] = [];
  for (const ids of rows) {
    const scored = r.echo && (k !== null || promptK !== null) ? await echoed(engine, ids, Math.max(k ?? 0, promptK ?? 0)) : undefined;
    choices.push({
      index: choices.length,
      text: r.echo ? ids.map((id) => engine.tokenText(id)).join('') : '',
      logprobs: k === null ? null : scored?.legacy(k) ?? { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] },
      finish_reason: 'length',
      stop_reason: null,
      prompt_logprobs: promptK === null ? null : scored?.entries(promptK) ?? null,
      ...(r.return_token_ids ? { prompt_token_ids: ids, token_ids: [] } : {}),
    });
  }
  return choices;
}

/** Each token's log-probability, rank and the best candidates before it, in vLLM's two shapes. */
async function echoed(engine: Engine, ids: number[], k: number) {
  const rows = ids.length > 1 ? await logitsOf(engine, ids.slice(0, -1)) : [];
  const text = (id: number) => engine.tokenText(id);
  const positions = rows.map((row, i) => {
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    const lp = (id: number) => row[id] - max - Math.log(z);
    const id = ids[i + 1];
    let above = 0;
    for (const v of row) above += Number(v > row[id]);
    const best = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k).map((c) => ({ id: c, logprob: lp(c) }));
    return { id, logprob: lp(id), rank: above + 1, best };
  });
  return {
    legacy(kk: number): CompletionLogProbs {
      const out: CompletionLogProbs = { text_offset: [0], token_logprobs: [null], tokens: [text(ids[0])], top_logprobs: [null] };
      let offset = utf16ToCodePoint(text(ids[0]), text(ids[0]).length);
      for (const p of positions) {
        out.tokens.push(text(p.id));
        out.text_offset.push(offset);
        offset += utf16ToCodePoint(text(p.id), text(p.id).length);
        out.token_logprobs.push(p.logprob);
        const top: Record<string, number> = {};
        for (const c of p.best.slice(0, kk)) top[text(c.id)] ??= c.logprob;
        top[text(p.id)] ??= p.logprob;
        out.top_logprobs.push(top);
      }
      return out;
    },
    entries(kk: number): (Record<string, Logprob> | null)[] {
      return [null, ...positions.map((p) => {
        const entry: Record<string, Logprob> = { [p.id]: { logprob: p.logprob, rank: p.rank, decoded_token: text(p.id) } };
        p.best.slice(0, kk).forEach((c, j) => { entry[c.id] ??= { logprob: c.logprob, rank: j + 1, decoded_token: text(c.id) }; });
        return entry;
      })];
    },
  };
}
