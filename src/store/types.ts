import type { PostingChecks } from './posting-checks.ts';
/**
 * Persistent layout of an m3-search index, shared by every Store implementation.
 *
 * The unit of storage is the *segment*: one add/upsert batch, immutable once written, holding the
 * batch's vectors and postings as compact typed arrays (structured-cloneable, so IndexedDB stores
 * them without copying through JSON). Deletes and replacements are tombstones (dead doc keys) kept in
 * the meta record and written in the same transaction as the change; compaction rewrites live rows
 * into one segment and drops the tombstones.
 */
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import type { LegacyDoc } from './legacy.ts';

/**
 * Bumped whenever the stored layout changes; Store.open migrates older layouts.
 * 2: segments + tombstones. 3: segments carry checksums (FileStore: segment file format 2; IdbStore: a
 * `checksum` in each segment record), checked on open. 4: sparse and BM25 postings gap + varint coded
 * (postings.ts; FileStore: segment file format 3; IdbStore: IndexedDB version 5). 5: BM25 blocks may hold
 * term positions (phrases from postings) and ColBERT blocks may be bit-plane coded (ColbertBitsBlock); schema 4
 * segments are read as they are (phrases checked on text, int8 ColBERT). 6: BM25 blocks front-code their terms
 * with each run's length (Bm25DictBlock) and sparse tokens with one entry store no list length (SparseBlock.singles);
 * IdbStore: IndexedDB version 7; schema 4 and 5 blocks are read as they are.
 */
export const SCHEMA_VERSION = 6;
/** Oldest schema whose segments this version still reads (imports, static packages, migrations). */
export const MIN_READ_SCHEMA = 2;

/** Bits per dimension a ColBERT block can be written with: 8 is int8, 1, 2 and 4 are bit-plane codes. */
export type ColbertBits = 1 | 2 | 4 | 8;

/** Sparse postings of one segment by token id (rows ascending inside each token), coded as postings.ts says. */
export interface SparseBlock {
  /** First token id of each group of SPARSE_GROUP consecutive tokens, ascending. */
  groupTokens: Uint32Array;
  /** Byte offset of each group in `postings`; length groups + 1 (the last is postings.length). */
  groupOffsets: Uint32Array;
  /**
   * Per token: its id (as a gap inside its group) and byte length, then per entry the segment-local row as a
   * varint gap and its weight quantised to uint8: w ≈ q · scale (round to nearest, so |error| ≤ scale/2).
   */
  postings: Uint8Array;
  /** Distinct tokens in all. */
  tokens: number;
  /** Entries in all (what the byte runs decode to). */
  entries: number;
  scale: number;
  /** Schema 6: a token with one entry says so in its header and stores no byte length (sparse-postings.ts). */
  singles?: true;
}

/** Dense vectors of one segment, int8 with a per-row scale: v ≈ codes · scale. */
export interface DenseBlock {
  dims: number;
  codes: Int8Array; // [rows × dims]
  scales: Float32Array; // [rows]
  /** OpenOptions.denseRefine: each row's 4-bit residual, (dims + 1) >> 1 bytes per row (rank/dense-residual.ts). */
  residual?: Uint8Array;
}

/** ColBERT vectors of one segment: int8 (what every schema wrote) or bit-plane coded (schema 5). */
export type ColbertBlock = ColbertInt8Block | ColbertBitsBlock;

/** ColBERT vectors of one segment, int8 with a per-vector scale: v ≈ codes · scale. No codec tag. */
export interface ColbertInt8Block {
  codec?: undefined;
  dims: number;
  /** rowOffsets[r]..rowOffsets[r+1] are the vectors of row r; length rows + 1. */
  rowOffsets: Uint32Array;
  codes: Int8Array; // [vectors × dims]
  scales: Float32Array; // [vectors]
}

/**
 * ColBERT vectors coded with `bits` bits per dimension (src/store/colbert-bits.ts): code c ∈ [0, 2^bits − 1]
 * per dimension, v ≈ (c − (2^bits − 1)/2) · step, kept as `bits` bit-planes of dims/8 bytes per vector.
 */
export interface ColbertBitsBlock {
  codec: 'bits';
  dims: number;
  bits: 1 | 2 | 4;
  /** rowOffsets[r]..rowOffsets[r+1] are the vectors of row r; length rows + 1. */
  rowOffsets: Uint32Array;
  /** Per vector: plane 0 (lowest bit) … plane bits−1, each dims/8 bytes, bit x%8 of byte x/8 for dimension x. */
  planes: Uint8Array;
  /**
   * Per vector, the step (bits ≥ 2); one step for the whole block at 1 bit, where a per-vector float would
   * put a vector over 1/8 of its int8 size (M3's vectors are unit length, so their sign codes share one scale).
   */
  steps: Float32Array;
}

/**
 * BM25 postings of one segment, by analysed term (doc-local indexes ascending inside each term),
 * so an open never re-analyses text: a whole BM25 index is rebuilt by merging segments. Schema 6 writes
 * Bm25DictBlock; schema 4 and 5 segments hold Bm25ArrayBlock and are read as they are.
 */
export type Bm25Block = Bm25ArrayBlock | Bm25DictBlock;

/** A schema 4 or 5 BM25 block: the term strings as an array, each term's byte run by a uint32 offset. */
export interface Bm25ArrayBlock {
  terms: string[];
  /** offsets[t]..offsets[t+1] is the byte run of terms[t]'s postings in `postings`; length terms.length + 1. */
  offsets: Uint32Array;
  /** Per posting: the segment-local document as a varint gap and its term frequency (postings.ts). */
  postings: Uint8Array;
  /** Schema 5: each term's run also holds its df and every posting's positions (bm25-postings.ts encodeBm25). */
  positions?: true;
  /** Document length in terms (what BM25 length normalisation uses). */
  lengths: Uint32Array; // [docs]
  dict?: undefined;
}

/**
 * A schema 6 BM25 block: the same postings, the terms front-coded with their runs' lengths in `dict`
 * (bm25-terms.ts), read in place; a df of 1 rides in the dictionary instead of the run.
 */
export interface Bm25DictBlock {
  /** Per term: its bytes front-coded against the previous term, and its run's length (bm25-terms.ts). */
  dict: Uint8Array;
  /** Per group of BM25_TERM_GROUP terms: the byte offsets of its first entry in `dict` and of its first run. */
  dictIndex: Uint32Array;
  termCount: number;
  /** The terms' byte runs back to back, each as Bm25ArrayBlock's (without a df of 1). */
  postings: Uint8Array;
  positions?: true;
  lengths: Uint32Array; // [docs]
  terms?: undefined;
  offsets?: undefined;
}

export interface ReadSegmentsOptions {
  /** Where to defer posting-list structure checks (an open's; IdbStore honours it, the others check on read). */
  deferChecks?: PostingChecks;
}

export interface SegmentRecord {
  /** Sequence number, increasing; also the IndexedDB key and file name. */
  seq: number;
  /** Document key per segment-local document. */
  keys: Uint32Array;
  /** External id per segment-local document (kept here so an open needs no pass over `docs`). */
  ids: string[];
  /** Metadata per document, or null; kept here so filters evaluate in memory. */
  metadata: (Record<string, unknown> | null)[];
  /** Segment-local document of each vector row (rows of one doc are contiguous). */
  rowDoc: Uint32Array;
  /** Passage character span per row [start0, end0, start1, end1, …] for chunked docs; empty otherwise. */
  rowSpans: Uint32Array;
  dense: DenseBlock | null;
  sparse: SparseBlock | null;
  colbert: ColbertBlock | null;
  bm25: Bm25Block | null;
  /** CRC-32 of the record's content (segment-check.ts segmentChecksum); IdbStore sets and checks it. */
  checksum?: number;
}

/** Passage spans of a chunked document, in characters of its text. */
export interface ChunkInfo {
  spans: [number, number][];
}

export interface DocRecord {
  id: string;
  key: number;
  text: string;
  metadata?: Record<string, unknown>;
  chunks?: ChunkInfo;
}

/** What identifies the vectors in an index: opening with a different encoder is an error. */
export interface ModelIdentity {
  modelId: string;
  dims: number;
  headHash: string;
  dtype: string;
}

export interface MetaRecord extends ModelIdentity {
  schemaVersion: number;
  colbert: boolean;
  /** Bits per dimension of the ColBERT vectors written from now on (OpenOptions.colbertBits); absent = 8 (int8). */
  colbertBits?: ColbertBits;
  /** Next document key to assign. Keys are never reused, so a tombstone names one version of a doc. */
  nextKey: number;
  nextSeq: number;
  /** Live documents (ids). */
  docCount: number;
  /** Dead doc keys whose rows still sit in segments, sorted ascending. */
  tombstones: number[];
  /** Segments that make up the index, ascending. */
  segments: number[];
  createdAt: number;
  updatedAt: number;
  /** The tuned sparse head that produced the sparse postings (issue 5); absent = the base head. */
  sparseHead?: { version: number; hash: string };
  /** Dense rows are written with a 4-bit residual (OpenOptions.denseRefine) from now on; absent = not. */
  denseRefine?: true;
  /** BM25 analyzer options the text was indexed with (OpenOptions.analyzer); absent = the defaults. */
  analyzer?: AnalyzerOptions;
}

/** One stored head version (a tuned sparse head, src/tune/head-codec.ts), kept beside the index. */
export interface HeadBlob {
  version: number;
  bytes: Uint8Array;
}

/** One atomic write: a whole batch or nothing. */
export interface CommitBatch {
  meta: MetaRecord;
  /** New segments (one for an add batch; compaction may write several). */
  segments?: SegmentRecord[];
  /** Document records of the new segments (stores that keep docs elsewhere carry the others over). */
  putDocs?: DocRecord[];
  deleteDocIds?: string[];
  /** Segments to drop (compaction). */
  deleteSegments?: number[];
  /** v1 records consumed by this batch (migration). */
  deleteLegacyIds?: string[];
  /**
   * Per entry of `segments`: its documents' texts as Store.packTexts made them before the write lock, or
   * undefined (the store packs `putDocs` itself then).
   */
  packedTexts?: (PackedTexts | undefined)[];
}

/** A store's own stored form of one segment's document texts (IdbStore: coded or deflated groups), in row order. */
export interface PackedTexts {
  ids: string[];
  parts: Uint8Array[];
  /** IdbStore: the text model (store/text-code.ts) the parts are coded with; absent when they are deflated. */
  model?: number;
}

export interface CommitOptions {
  /**
   * Called once every write is queued and the store only waits for them to land (IdbStore: before
   * awaiting the transaction), so the caller can prepare its next batch meanwhile. Stores may not call it.
   */
  onQueued?: () => void;
}

export interface StorageInfo {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

export interface Store {
  readonly kind: 'idb' | 'file' | 'memory';
  /** Opens (creating or migrating) and returns the meta record, or null for a new store. */
  open(): Promise<MetaRecord | null>;
  /**
   * Reads segments in ascending seq order, optionally only those with seq in `only`. With `deferChecks`, a store
   * that checks posting lists on read may leave them to first use and idle time (posting-checks.ts).
   */
  readSegments(only?: number[], opts?: ReadSegmentsOptions): Promise<SegmentRecord[]>;
  getDoc(id: string): Promise<DocRecord | undefined>;
  getDocs(ids: string[]): Promise<(DocRecord | undefined)[]>;
  /** Up to `limit` v1 records still waiting to be migrated (empty when none). */
  legacyDocs(limit: number): Promise<LegacyDoc[]>;
  /** Every stored document record (re-embedding, compaction). */
  allDocs(): Promise<DocRecord[]>;
  /**
   * Optional: packs the texts of a new segment's documents (in row order) into the stored form, so that work
   * runs before the write lock, while an earlier batch commits; the result goes in CommitBatch.packedTexts.
   */
  packTexts?(docs: Pick<DocRecord, 'id' | 'text' | 'chunks'>[]): Promise<PackedTexts>;
  /** Writes everything in `batch` atomically. Throws M3QuotaError when storage is full. */
  commit(batch: CommitBatch, opts?: CommitOptions): Promise<void>;
  /**
   * Replaces everything with `meta`, `segments` and their documents in one atomic step (an import): until
   * it completes the old contents are untouched, and a failure leaves them exactly as they were. Segment
   * numbers may be reassigned (the meta written says which).
   */
  replace(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[]): Promise<void>;
  /** Removes everything (one atomic step) and writes `meta` as the fresh state, or nothing if null. */
  reset(meta: MetaRecord | null): Promise<void>;
  /** Re-reads the meta record (another tab or process may have committed). */
  readMeta(): Promise<MetaRecord | null>;
  storage(): Promise<StorageInfo>;
  close(): void;
  /** Serialises writers across tabs/processes where the platform can (Web Locks); else just runs fn. */
  withWriteLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Calls back when another instance committed; returns an unsubscribe function. */
  onRemoteCommit(cb: () => void): () => void;
  /** Calls back when this connection is being closed because another wants to upgrade/delete. */
  onVersionChange(cb: () => void): void;
  /** Tuned head versions kept beside the index; they survive reset(). Optional for other stores. */
  readHeads?(): Promise<HeadBlob[]>;
  /** Writes (or replaces) one head version. Heads are immutable: the meta points at one by version. */
  writeHead?(head: HeadBlob): Promise<void>;
}
