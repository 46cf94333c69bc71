// The model's forward passes, one at a time, and the Analysis each one makes: a causal pass that may
// continue a kept KV cache (keptCaches.ts), or a masked model's batched passes (masked.ts). Every pass of a
// session, a recomputed row or a fetched attention layer included, is queued and counted here.
import { hasScoringHead } from '../onnx/scoringHead';
import type { AnalysisWindow, AttentionData, Token } from '../types';
import { Analysis, type AnalysisInput } from './analysis';
import { AnalysisError, throwIfAborted } from './analysisErrors';
import type { MemoryBudget } from './cache';
import { canContinue, type ForwardResult, type RawTensor } from './forward';
import type { KvRequest } from './forwardThread';
import { joinRows, KeptCaches, type Plan } from './keptCaches';
import { maskedAttentionLayer, type MaskedScores, maskedScores } from './masked';
import type { OpenedModel } from './openModel';

export interface PassOptions {
  /** Continue the kept KV cache that shares the longest prefix with the tokens, and keep this one. */
  incremental?: boolean;
  /** With `incremental`: continue none (keep this one all the same). */
  fresh?: boolean;
  /** false: leave the [T, V] logits in the worker (scores, ranks and candidates only). */
  logits?: boolean;
  signal?: AbortSignal;
  /** Attention was asked for: an export without it gets its note in the analysis. */
  attention?: boolean;
}

export class AnalysisPasses {
  private queue: Promise<unknown> = Promise.resolve();
  private forwardsRun = 0;
  /** KV caches of recent incremental analyses; undefined when the export cannot continue a pass. */
  private readonly kept?: KeptCaches;
  /** How many tokens the last incremental analysis took from a kept cache (0: it ran the model on all of them). */
  lastReusedTokens = 0;

  constructor(private readonly model: OpenedModel, private readonly memory: MemoryBudget) {
    const { thread, cacheShape } = model;
    const pastInputs = thread.inputNames.filter((n) => n.startsWith('past_key_values.')).length;
    this.kept = canContinue(thread.inputNames, thread.outputNames) && hasScoringHead(thread.outputNames)
      ? new KeptCaches(thread, memory, pastInputs * cacheShape.kvHeads * cacheShape.headDim * 4)
      : undefined;
  }

  /** How many forward passes the model ran (analyses and recomputed logits). */
  get forwardCount(): number {
    return this.forwardsRun;
  }

  /**
   * One forward pass at a time: onnxruntime already uses every core. Each turn starts after one round of
   * the event loop, so that an abort arriving meanwhile is seen before the model runs.
   */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => new Promise((resolve) => setImmediate(resolve))).then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** One pass over a batch of token sequences of equal length (no cache), fetching the named outputs; queued. */
  run(rows: number[][], outputs: string[], signal?: AbortSignal): Promise<Record<string, RawTensor>> {
    return this.enqueue(async () => {
      throwIfAborted(signal);
      return this.outputs(rows, outputs);
    });
  }

  /**
   * One pass over `tokens` (call it in turn, from `enqueue`). `attentionNames`: the attention outputs to
   * bring back with it (null: none).
   */
  async passOver(text: string, tokens: Token[], window: AnalysisWindow, attentionNames: string[] | null,
    opts: PassOptions): Promise<Analysis> {
    const ids = tokens.map((t) => t.id);
    // A masked model is scored by masking each token in turn (masked.ts): no KV cache to continue.
    if (this.model.info.objective === 'masked') {
      return this.analysisOf(text, tokens, window, await this.maskedForward(ids, attentionNames, opts.signal), !!opts.attention);
    }
    const plan: Plan | undefined = opts.incremental && !attentionNames && this.kept ? this.kept.plan(opts.fresh ? [] : ids) : undefined;
    // Once the model ran, the result is kept (and cached) even if its caller gave up meanwhile.
    let analysis: Analysis;
    try {
      // An incremental analysis serves typing (scores, ranks, candidates): its logits stay in the worker.
      let result = await this.forward(plan ? ids.slice(plan.reused) : ids, attentionNames, plan?.request, opts.logits !== false && !plan);
      this.lastReusedTokens = plan?.reused ?? 0;
      if (plan?.source) {
        const joined = joinRows(plan.source.leadingRows(plan.reused), { ...result, ranked: result.ranked!, scores: result.scores! });
        result = { ...result, logits: undefined, scores: joined.scores, ranked: { ranks: joined.ranks, top: joined.top } };
      }
      // Asked for attention the export lacks: the analysis carries the note why.
      analysis = this.analysisOf(text, tokens, window, result, !!opts.attention);
    } catch (e) {
      if (plan) this.kept!.abandon(plan);
      throw e;
    }
    if (plan) this.kept!.add(plan, ids, analysis);
    return analysis;
  }

  /** Lets every kept KV cache go. */
  clear(): void {
    this.kept?.clear();
  }

  private forward(ids: number[], attentionNames: string[] | null, kv?: KvRequest, logits = true) {
    this.forwardsRun++;
    return this.model.thread.run(ids, this.model.cacheShape, attentionNames, kv, logits);
  }

  private outputs(rows: number[][], outputs: string[]): Promise<Record<string, RawTensor>> {
    this.forwardsRun++;
    return this.model.thread.outputs(rows, this.model.cacheShape, outputs);
  }

  /** A masked model's scores: the text as given and each token masked in turn (masked.ts), in batched passes. */
  private maskedForward(ids: number[], attentionNames: string[] | null, signal?: AbortSignal) {
    const { info, vocab } = this.model;
    return maskedScores(ids, info.maskId!, info.vocabSize, (id) => vocab.specialIds.has(id), attentionNames, {
      run: (rows, outputs) => this.outputs(rows, outputs),
      // A long text takes several passes: one that nobody waits for any more stops between two.
      beforePass: () => throwIfAborted(signal),
    });
  }

  /** The analysis of one pass over `tokens`; refuses non-finite scores (corrupt weights). */
  private analysisOf(text: string, tokens: Token[], window: AnalysisWindow, result: ForwardResult | MaskedScores, wantAttention: boolean): Analysis {
    const masked = 'scored' in result ? result : undefined;
    const layer0 = masked ? maskedAttentionLayer(masked, 0, tokens.length) : (result as ForwardResult).layers?.[0];
    const attention: AttentionData | null = layer0
      ? { layers: this.model.attentionNames.length, heads: layer0.heads.length, size: tokens.length }
      : null;
    const analysis = new Analysis({
      modelId: this.model.ref,
      text,
      tokens,
      logits: result.logits,
      vocabSize: result.vocabSize,
      window,
      attention,
      attentionLayers: layer0 ? [{ layer: 0, value: layer0 }] : undefined,
      attentionNote: wantAttention && !attention ? this.model.info.attentionNote : undefined,
      scores: 'scores' in result ? result.scores : null,
      ranked: 'ranked' in result ? result.ranked : undefined,
      ...(masked ? { objective: 'masked' as const, scored: masked.scored } : {}),
      memory: this.memory,
      // Made outside this scope: a closure made here would keep `result`, and with it the logits, alive.
      ...this.analysisLinks(tokens.map((t) => t.id)),
    });
    if (analysis.tokens.some((t) => t.loss !== null && !Number.isFinite(t.loss))) {
      this.memory.release(analysis);
      throw new AnalysisError('The model produced NaN or infinite logits for this text; its weights may be corrupt.');
    }
    return analysis;
  }

  /** What an analysis keeps of its session: how to name a token, and how to recompute its logits. */
  private analysisLinks(ids: number[]): Pick<AnalysisInput, 'decode' | 'recompute' | 'fetchAttention'> {
    const { info, vocab, thread, cacheShape, attentionNames } = this.model;
    return {
      decode: (id) => vocab.pieceText(id),
      recompute: () => this.enqueue(async () =>
        (info.objective === 'masked' ? await this.maskedForward(ids, null) : await this.forward(ids, null)).logits!),
      fetchAttention: (layers) => this.enqueue(() => {
        this.forwardsRun++;
        return thread.attention(ids, cacheShape, layers.map((l) => attentionNames[l]));
      }),
    };
  }
}
