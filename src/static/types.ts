/** What loading a static package takes and reports (src/static/loader.ts). */
import type { EncoderLike, OpenOptions } from '../search/types.ts';
import type { ModelIdentity } from '../store/types.ts';

export interface StaticProgress {
  phase: 'manifest' | 'download' | 'verify' | 'install' | 'ready';
  /** Bytes of chunks received (or taken from an interrupted earlier load) so far. */
  loadedBytes: number;
  totalBytes: number;
  chunksDone: number;
  chunks: number;
  version: string | null;
  /** Set with phase 'ready'. */
  report?: StaticLoadReport;
}

export interface StaticLoadReport {
  /** installed: a new version was written; current: already installed; offline: manifest unreachable, current version used. */
  status: 'installed' | 'current' | 'offline';
  version: string;
  indexName: string;
  previous: string | null;
  bytesFetched: number;
  chunksFetched: number;
  /** Chunks reused from an interrupted earlier load (verified again before use). */
  chunksResumed: number;
  /** Range requests that resumed a cut transfer. */
  rangeResumes: number;
  ms: number;
  /** Why the network was not used (offline). */
  reason?: string;
}

export interface StaticLoadOptions {
  /** Name of the index on this origin (default 'site'): packages of one name replace each other. */
  name?: string;
  /** The page's encoder: the package must have been built by the same model, heads and dtype (else M3IndexMismatchError). */
  encoder?: EncoderLike;
  /** Without an encoder: the model identity the package must have. */
  model?: ModelIdentity;
  onProgress?: (p: StaticProgress) => void;
  signal?: AbortSignal;
  /** Attempts per chunk after the first (default 3): a cut transfer resumes where it stopped. */
  retries?: number;
  /** Chunk downloads at once (default 4). */
  concurrency?: number;
  fetch?: typeof fetch;
  indexedDB?: IDBFactory;
  /** Options for the M3Index that loadStaticIndex opens (store and encoder are set by the loader). */
  open?: Omit<OpenOptions, 'store' | 'encoder' | 'model'>;
}
