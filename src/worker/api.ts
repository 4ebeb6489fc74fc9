/**
 * The contract between a page and the m3-search worker: what crosses the postMessage boundary.
 * Everything here is structured-cloneable; callbacks travel as Comlink proxies, and an AbortSignal
 * (which cannot be cloned) becomes a task id that the client cancels through `cancel(task)`.
 */
import type { EncoderInfo, LoadOptions } from '../encoder/load-options.ts';
import type { LoadProgress } from '../encoder/model-source.ts';
import type { EncodeOptions, M3Embedding } from '../encoder/types.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import type { ColbertBits } from '../store/types.ts';
import type { IndexInfo } from '../search/m3-index.ts';
import type { ChunkOptions, Hit, IndexDoc, IngestProgress, MetadataFilter, OnMismatch, SearchOptions, SearchQuery } from '../search/types.ts';
import type { StaticProgress } from '../static/loader.ts';
import type { StorageInfo } from '../store/types.ts';
import type { TuneOptions, TuneProgress, TuneResult } from '../tune/tune.ts';

/** tuneSparseHead's options minus what can't cross to the worker (signal, callbacks, a cache). */
export type WorkerTuneOptions = Omit<TuneOptions, 'signal' | 'onProgress' | 'cache'> & {
  /** Id under which `cancel(task)` aborts the tuning (nothing is written then). */
  task?: string;
};

/** Tuned head versions of the open index, and which one made its sparse postings (null: the base head). */
export interface WorkerHeadsInfo {
  active: { version: number; hash: string } | null;
  versions: { version: number; hash: string; createdAt: number; options: Record<string, unknown>; metrics: Record<string, unknown> }[];
  postingsPerDoc: number;
}

/** M3Encoder.load's options, minus the callbacks and test hooks that can't be cloned. */
export type WorkerLoadOptions = Pick<
  LoadOptions,
  'model' | 'device' | 'dtype' | 'heads' | 'remoteHost' | 'remotePathTemplate' | 'verify' | 'wasmPaths' | 'threads'
>;

export interface WorkerIndexOptions {
  colbert?: boolean;
  colbertBits?: ColbertBits;
  denseRefine?: boolean;
  bm25?: boolean;
  chunk?: Omit<ChunkOptions, 'chunker'>;
  onMismatch?: OnMismatch;
  /** OpenOptions.analyzer (a stop-word Set does not cross: pass an array). */
  analyzer?: Omit<AnalyzerOptions, 'stopWords'> & { stopWords?: boolean | string[] };
}

/** SearchOptions with an object filter only (a function can't cross to the worker). */
export type WorkerSearchOptions = Omit<SearchOptions, 'filter'> & { filter?: MetadataFilter };

export interface WorkerIngestOptions {
  /** Replace documents whose id exists (upsert) instead of refusing them (add). */
  upsert?: boolean;
  /** Documents per transaction; also how often progress is reported and cancellation is checked. */
  batchSize?: number;
  /** Id under which `cancel(task)` aborts this ingest. */
  task?: string;
}

export interface WorkerSearchResult {
  hits: Hit[];
  /** Milliseconds inside the worker: query encoding plus ranking (and reading hit texts). */
  ms: number;
}

export interface WorkerStatus {
  encoder: EncoderInfo | null;
  index: IndexInfo | null;
  /** Whether the worker has SharedArrayBuffer (ORT's WASM threads need it). */
  crossOriginIsolated: boolean;
}

export interface M3WorkerApi {
  /** Loads a model; on failure the previous model stays loaded and in use. A new model closes the open index. */
  loadModel(options: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EncoderInfo>;
  openIndex(name: string, options?: WorkerIndexOptions): Promise<IndexInfo>;
  closeIndex(): Promise<void>;
  ingest(docs: IndexDoc[], options?: WorkerIngestOptions, onProgress?: (p: IngestProgress) => void): Promise<{ done: number }>;
  cancel(task: string): Promise<void>;
  /** The query syntax as a string, or the structured form { must?, should?, mustNot? }; errors keep their name (QuerySyntaxError). */
  search(query: SearchQuery, options?: WorkerSearchOptions): Promise<WorkerSearchResult>;
  encode(texts: string[], options?: EncodeOptions): Promise<M3Embedding[]>;
  get(id: string): Promise<{ id: string; text: string; metadata?: Record<string, unknown> } | undefined>;
  remove(ids: string[]): Promise<number>;
  count(): Promise<number>;
  clear(): Promise<void>;
  storage(): Promise<StorageInfo & { count: number }>;
  status(): Promise<WorkerStatus>;
  /** The open index as one file (see search/portable.ts). */
  exportIndex(): Promise<Uint8Array>;
  /** Replaces the open index with a file, after checking all of it against the loaded model. */
  importIndex(bytes: Uint8Array): Promise<IndexInfo>;
  /**
   * Replaces the open index with a static package (`m3-search index --static DIR` at build time: manifest
   * + chunks) fetched from `url`, after verifying every chunk and checking the package against the loaded
   * model; a refusal (StaticPackageError) leaves the open index as it was. The index stays editable.
   */
  importStatic(url: string, onProgress?: (p: StaticProgress) => void): Promise<IndexInfo & { version: string }>;
  /** Tunes the open index's sparse head on its documents (issue 5); the worker keeps its hidden-state cache. */
  tune(options?: WorkerTuneOptions, onProgress?: (p: TuneProgress) => void): Promise<TuneResult>;
  /** Back to the base head (sparse postings re-made). */
  revertTune(onProgress?: (p: TuneProgress) => void): Promise<WorkerHeadsInfo>;
  heads(): Promise<WorkerHeadsInfo>;
}
