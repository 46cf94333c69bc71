// The shapes that the runtime hands to the CLI, the extension and the webviews.

/** A token the model saw, with UTF-16 offsets into the analysed text. Specials (BOS) are zero-width. */
export interface Token {
  id: number;
  text: string;
  start: number;
  end: number;
  special: boolean;
}

/** How the model scored the token that actually came at a position, given everything before it. */
export interface TokenScore {
  /** Probability of this token given the previous ones; null for the first token (nothing predicts it). */
  prob: number | null;
  /** 1 = the model's top guess. */
  rank: number | null;
  /** Cross-entropy loss in nats: -ln(prob). */
  loss: number | null;
}

export type ScoredToken = Token & TokenScore;

/** One candidate of a next-token distribution. */
export interface Candidate {
  id: number;
  text: string;
  prob: number;
  logit: number;
}

/** Which part of the text was analysed when it did not fit the context window. */
export interface AnalysisWindow {
  /** Index, among all tokens of the text, of the first token analysed (an estimate unless `counted`). */
  firstToken: number;
  /** How many tokens the whole text has (an estimate unless `counted`). */
  totalTokens: number;
  /**
   * True when the whole text was tokenized, so the two counts above are exact. A long text has only its
   * end tokenized (what the window can hold): then they are estimated from the characters per token of
   * the analysed part. The offsets and the tokens analysed are exact either way.
   */
  counted: boolean;
  /** UTF-16 offsets of the analysed part of the text. */
  start: number;
  end: number;
  truncated: boolean;
}

/** The shape of an analysis's attention: `layers` x `heads` matrices of `size` x `size` (T x T). The matrices
 *  themselves are fetched a layer at a time (Analysis.attentionLayer). */
export interface AttentionData {
  layers: number;
  heads: number;
  size: number;
}

/** Sampling controls applied to a next-token distribution, renormalised over the whole vocabulary. */
export interface SamplingControls {
  temperature: number;
  topK: number;
  topP: number;
}

export interface ModelInfo {
  id: string;
  arch: string;
  vocabSize: number;
  contextLength: number;
  layers: number;
  heads: number;
  attention: 'available' | 'unavailable';
  attentionNote?: string;
  /** 'masked' for a masked language model (BERT): it predicts the token at each [MASK], not the next one. */
  objective?: 'masked';
  /** A masked model's mask token, as the text spells it ("[MASK]", "<mask>"), and its id. */
  maskToken?: string;
  maskId?: number;
}

/** Progress of a model download or preparation step. */
export interface LoadProgress {
  status: 'download' | 'progress' | 'done' | 'ready' | 'prepare';
  file?: string;
  loaded?: number;
  total?: number;
  /** 0..100 for the file named. */
  progress?: number;
  message?: string;
}
