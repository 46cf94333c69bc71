/** The two JSON files transformers.js needs to build a tokenizer. */
export interface TokenizerFiles {
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}
