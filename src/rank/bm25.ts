/**
 * Okapi BM25 as the index scores it (src/search/segment-bm25.ts is the engine):
 *
 *   score(q, d) = Σ_t qtf(t) · idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl))
 *   idf(t)      = ln(1 + (N − df + 0.5)/(df + 0.5))          (Lucene's, always > 0)
 *
 * Repeated query terms count once per occurrence (qtf), as in Okapi with k3 → ∞ and as a Lucene
 * boolean query of the same words would. This module holds the shared types, the default parameters
 * and the analysis of one document into terms.
 */
import type { AnalyzerOptions } from './analyzer.ts';
import { analyzeTermCounts } from './term-stats.ts';

export interface Bm25Params {
  k1: number;
  b: number;
}

export interface Bm25DocTerms {
  key: number;
  /** Tokens in the document (the |d| of the formula). */
  length: number;
  /** term → tf */
  terms: Map<string, number>;
}

export interface Bm25Hit {
  key: number;
  score: number;
}

export interface Bm25SearchOptions {
  /** Keep only keys for which this returns true (called only for keys that would make the top k). */
  filter?: (key: number) => boolean;
}

/**
 * A batch of documents' postings grouped by term (what a stored segment's BM25 block holds):
 * term t owns entries offsets[t] .. offsets[t+1], each a batch-local document index and its tf;
 * lengths[i] is document i's length. Structurally the store's Bm25Block.
 */
export interface Bm25PostingsBlock {
  terms: readonly string[];
  offsets: ArrayLike<number>;
  docs: ArrayLike<number>;
  tfs: ArrayLike<number>;
  lengths: ArrayLike<number>;
}

export interface Bm25BlockSource {
  /** Document key per batch-local document index. */
  keys: ArrayLike<number>;
  bm25: Bm25PostingsBlock;
}

export const DEFAULT_BM25_PARAMS: Readonly<Bm25Params> = Object.freeze({ k1: 1.2, b: 0.75 });

/** Analyzes one document into its term frequencies and length. Use the index's analyzer options. */
export function bm25DocTerms(key: number, text: string, analyzerOpts?: AnalyzerOptions): Bm25DocTerms {
  const { counts, length } = analyzeTermCounts(text, analyzerOpts);
  return { key, length, terms: counts };
}
