import type { EncodeOptions, M3Embedding } from '../encoder/types.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import type { ColbertBits, Store } from '../store/types.ts';
import type { ClauseMatch } from '../query/match.ts';
import type { BoolQuery } from '../query/types.ts';
import type { MergePolicy } from './merge-policy.ts';

/**
 * What M3Index needs from an encoder. M3Encoder satisfies it; so does any object producing M3's
 * three outputs (tests use a deterministic hashing encoder).
 */
export interface EncoderLike {
  info: {
    /** Model identity: `modelId` or M3Encoder's `model`. */
    modelId?: string;
    model?: string;
    hidden: number;
    headHash: string;
    dtype: string;
    /** Most tokens per text, `<s>`/`</s>` included; longer documents are chunked into passages. */
    maxLength?: number;
  };
  encode(texts: string[], opts?: EncodeOptions): Promise<M3Embedding[]>;
  /** Token ids of a text (content only or with specials; only the count is used, for chunking). */
  tokenize?(text: string, maxLength?: number): { ids: ArrayLike<number> };
  /** Human-readable text of one token id (explain, highlights). */
  tokenText?(id: number): string;
}

export interface IndexDoc {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
  /** Precomputed M3 outputs, used as they are (no encoder call, no chunking). */
  embedding?: M3Embedding;
}

export type PassageAggregate = 'max' | 'sum' | 'first';

export interface ChunkOptions {
  /** Words per passage when the encoder can't count tokens (default 300). */
  maxWords?: number;
  /** Words shared by consecutive passages (default 32). */
  overlapWords?: number;
  /** A document's score from its passages' scores (default 'max', the best passage). */
  aggregate?: PassageAggregate;
  /** Your own passage splitter: character spans [start, end) of `text`. */
  chunker?: (text: string) => [number, number][];
}

export type OnMismatch = 'error' | 're-embed' | 'reset';

export interface OpenOptions {
  encoder?: EncoderLike;
  /** Defaults: IdbStore when IndexedDB exists, else an error asking for a store. */
  store?: Store;
  /** Keep ColBERT vectors (needed for mode 'colbert' and ColBERT rerank). Default false. */
  colbert?: boolean;
  /**
   * Bits per dimension of the stored ColBERT vectors: 1, 2 or 4 (bit-plane codes, MaxSim computed on them) or
   * 8 (int8, what indexes before schema 5 hold). Default for a new index: DEFAULT_COLBERT_BITS. Stored with the
   * index: reopening without it keeps the stored width; another width applies to what is written from then on
   * (compaction re-codes older segments into it).
   */
  colbertBits?: ColbertBits;
  /**
   * Store a 4-bit residual beside each int8 dense row (+dims/2 bytes per row, 512 at 1024 dims) and re-rank
   * the int8 ranking's best rows with it: top-10s agree with fp32 for ≥ 95% of the workload's queries
   * instead of ~85% (README, "dense refinement"). Stored with the index: reopening without it keeps the
   * stored choice; true or false applies to what is written from then on. Default false.
   */
  denseRefine?: boolean;
  /** Index text for BM25 (default true). */
  bm25?: boolean;
  /**
   * How BM25 and query syntax split text into terms (stemming, stop words, tokenizer). Stored with the index:
   * reopening without it uses the stored options; other options than the stored ones are a mismatch
   * (onMismatch). Default: the Unicode tokenizer without stemming or stop words.
   */
  analyzer?: AnalyzerOptions;
  chunk?: ChunkOptions;
  onMismatch?: OnMismatch;
  /** Progress of a re-embed or a v1 migration on open. */
  onProgress?: (p: IngestProgress) => void;
  /** Tombstones / stored docs ratio that triggers compaction after a write (default 0.25). */
  compactThreshold?: number;
  /**
   * Tiered segment merging after each add/upsert (compaction-plan.ts planMerges): about F neighbouring
   * segments of one size tier become one, up to maxDocs documents, so many small adds leave a few large
   * segments. false: never (segments then only change by compaction). Default { fanIn: 10, maxDocs: 16384 }.
   */
  merge?: MergePolicy | false;
  /** Without an encoder: identity of the precomputed vectors you will add. */
  model?: { modelId: string; dims: number; headHash?: string; dtype?: string };
}

export interface IngestProgress {
  done: number;
  total: number;
  phase: 'encode' | 'write' | 're-embed' | 'migrate';
  /** On 'encode': tokens this batch fed the encoder (for a tokens/s figure; sum them). */
  tokens?: number;
}

export interface IngestOptions {
  onProgress?: (p: IngestProgress) => void;
  signal?: AbortSignal;
  /** Documents per segment (one transaction each). Default 1000. */
  batchSize?: number;
}

export type SearchMode = 'hybrid' | 'dense' | 'sparse' | 'bm25' | 'colbert';
export type FusionMode = 'weighted' | 'rrf' | 'normalized';
export type SignalName = 'dense' | 'sparse' | 'bm25' | 'colbert';

export interface SignalWeights {
  dense?: number;
  sparse?: number;
  colbert?: number;
  bm25?: number;
}

/** Metadata filter: `{ field: value }` (equality), `{ field: { $in: [...] } }`, `{ field: { $gte, $gt, $lte, $lt, $ne } }`. */
export type MetadataFilter = Record<string, unknown>;

export interface SearchOptions {
  k?: number;
  mode?: SearchMode;
  weights?: SignalWeights;
  fusion?: FusionMode;
  /** Per-signal top-N fused (default 100). */
  candidates?: number;
  rerank?: { colbert: boolean; topN?: number };
  filter?: MetadataFilter | ((metadata: Record<string, unknown> | undefined, id: string) => boolean);
  explain?: boolean;
  /** Attach each hit's text (read from the store, cached). Default true. */
  includeText?: boolean;
  /**
   * How the dense side finds its top-N: 'binary' scans 1 bit per dimension and rescores the best
   * `rescore` rows with the int8 codes (default from 20,000 vectors up, rescoring 3% of them, at least
   * 1,000, or 6% in an index with OpenOptions.denseRefine); 'int8' scores every vector's int8 codes.
   * `refine` (default true where rows carry residuals): re-rank the int8 ranking's best max(N, 32) rows
   * with their residuals; false ranks with the int8 codes alone.
   */
  dense?: { firstStage?: 'binary' | 'int8'; rescore?: number; refine?: boolean };
  /**
   * 'query' (default): query text uses the query syntax (+required -excluded "phrase" prefix* typo~1,
   * see src/query/parse.ts) and malformed syntax is a QuerySyntaxError. 'plain': text is a bag of words.
   */
  syntax?: 'query' | 'plain';
}

export interface SignalScore {
  score: number;
  /** 1-based rank in this signal's candidate list, or null when the doc was outside its top-N. */
  rank: number | null;
}

export interface TokenMatch {
  token: string;
  tokenId: number;
  queryWeight: number;
  docWeight: number;
  contribution: number;
}

export interface Hit {
  id: string;
  score: number;
  signals: Partial<Record<SignalName, SignalScore>>;
  text?: string;
  metadata?: Record<string, unknown>;
  /** Learned-sparse matches (explain): contributions sum to the sparse score. */
  matches?: TokenMatch[];
  /** BM25 terms matched (explain), with their score contributions. */
  terms?: { term: string; contribution: number }[];
  /** Character spans in `text` of matched words/tokens (explain), sorted, non-overlapping. */
  highlights?: { start: number; end: number }[];
  /** Passage that scored best, for chunked documents. */
  passage?: { start: number; end: number };
  /** Query syntax (explain): each clause, whether this document satisfies it, the words and spans that did. */
  clauses?: ClauseMatch[];
}

/**
 * A string (the query syntax), `{ text?, embedding? }`, or the structured form `{ must?, should?, mustNot? }`
 * (with `text` then only what the encoder reads, and `embedding` to skip the encoder).
 */
export type SearchQuery = string | ({ text?: string; embedding?: M3Embedding } & BoolQuery);
