/**
 * The page side of the m3-search worker: the library's API, running off the main thread.
 *
 *   const m3 = createM3Worker();
 *   await m3.load({ model: '/models/tiny-m3', onProgress });
 *   await m3.openIndex('docs');
 *   await m3.add(docs, { onProgress, signal });
 *   const { hits, ms } = await m3.search('query', { explain: true });
 */
import * as Comlink from 'comlink';
import { useErrorTransfer } from './error-transfer.ts';
import type { EncoderInfo } from '../encoder/load-options.ts';
import type { LoadProgress } from '../encoder/model-source.ts';
import type { EncodeOptions, M3Embedding } from '../encoder/types.ts';
import type { IndexInfo } from '../search/m3-index.ts';
import type { IndexDoc, IngestProgress, SearchQuery } from '../search/types.ts';
import type { StaticProgress } from '../static/loader.ts';
import type { StorageInfo } from '../store/types.ts';
import type { M3WorkerApi, WorkerIndexOptions, WorkerLoadOptions, WorkerSearchOptions, WorkerSearchResult, WorkerStatus } from './api.ts';
import type { TuneProgress, TuneResult } from '../tune/tune.ts';
import type { WorkerHeadsInfo, WorkerTuneOptions } from './api.ts';

export interface ClientIngestOptions {
  onProgress?: (p: IngestProgress) => void;
  signal?: AbortSignal;
  batchSize?: number;
}

export class M3WorkerClient {
  private readonly remote: Comlink.Remote<M3WorkerApi>;
  private nextTask = 0;

  constructor(readonly worker: Worker) {
    useErrorTransfer();
    this.remote = Comlink.wrap<M3WorkerApi>(worker);
  }

  /** Loads a model in the worker. If it fails, the model loaded before stays in use. */
  load(options: WorkerLoadOptions & { onProgress?: (p: LoadProgress) => void }): Promise<EncoderInfo> {
    const { onProgress, ...rest } = options;
    return this.remote.loadModel(rest, onProgress && Comlink.proxy(onProgress));
  }

  openIndex(name: string, options?: WorkerIndexOptions): Promise<IndexInfo> {
    return this.remote.openIndex(name, options);
  }

  closeIndex(): Promise<void> {
    return this.remote.closeIndex();
  }

  add(docs: IndexDoc[], options: ClientIngestOptions = {}): Promise<{ added: number }> {
    return this.ingest(docs, options, false).then((r) => ({ added: r.done }));
  }

  upsert(docs: IndexDoc[], options: ClientIngestOptions = {}): Promise<{ upserted: number }> {
    return this.ingest(docs, options, true).then((r) => ({ upserted: r.done }));
  }

  search(query: SearchQuery, options?: WorkerSearchOptions): Promise<WorkerSearchResult> {
    return this.remote.search(query, options);
  }

  encode(texts: string[], options?: EncodeOptions): Promise<M3Embedding[]> {
    return this.remote.encode(texts, options);
  }

  get(id: string): Promise<{ id: string; text: string; metadata?: Record<string, unknown> } | undefined> {
    return this.remote.get(id);
  }

  remove(ids: string[]): Promise<number> {
    return this.remote.remove(ids);
  }

  count(): Promise<number> {
    return this.remote.count();
  }

  clear(): Promise<void> {
    return this.remote.clear();
  }

  storage(): Promise<StorageInfo & { count: number }> {
    return this.remote.storage();
  }

  status(): Promise<WorkerStatus> {
    return this.remote.status();
  }

  exportIndex(): Promise<Uint8Array> {
    return this.remote.exportIndex();
  }

  /** Replaces the open index with an exported file; a file from another model or schema, or a corrupt one, is refused. */
  async importIndex(file: Blob | ArrayBuffer | Uint8Array): Promise<IndexInfo> {
    const bytes = file instanceof Uint8Array ? file : new Uint8Array(file instanceof Blob ? await file.arrayBuffer() : file);
    // Transferred: a copy of a large index would cost the page a long task.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    return this.remote.importIndex(Comlink.transfer(own, [own.buffer as ArrayBuffer]));
  }

  /**
   * Replaces the open index with a static package built by `m3-search index --static DIR` (a relative `url`
   * resolves against this page): every chunk is verified and the package must match the loaded model, or it
   * is refused (StaticPackageError) and the open index stays as it was.
   */
  importStatic(url: string | URL, onProgress?: (p: StaticProgress) => void): Promise<IndexInfo & { version: string }> {
    return this.remote.importStatic(new URL(String(url), location.href).href, onProgress && Comlink.proxy(onProgress));
  }

  /** Tunes the open index's sparse head in the worker; `signal` cancels (the index stays as it was). */
  async tune(options: WorkerTuneOptions & { onProgress?: (p: TuneProgress) => void; signal?: AbortSignal } = {}): Promise<TuneResult> {
    const { onProgress, signal, ...rest } = options;
    if (signal?.aborted) throw abortError();
    const task = `t${++this.nextTask}`;
    const onAbort = () => void this.remote.cancel(task);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.remote.tune({ ...rest, task }, onProgress && Comlink.proxy(onProgress));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  revertTune(onProgress?: (p: TuneProgress) => void): Promise<WorkerHeadsInfo> {
    return this.remote.revertTune(onProgress && Comlink.proxy(onProgress));
  }

  heads(): Promise<WorkerHeadsInfo> {
    return this.remote.heads();
  }

  terminate(): void {
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }

  private async ingest(docs: IndexDoc[], options: ClientIngestOptions, upsert: boolean): Promise<{ done: number }> {
    const { signal, onProgress, batchSize } = options;
    if (signal?.aborted) throw abortError();
    // An AbortSignal can't be cloned: the ingest runs under a task id, and an abort cancels that id.
    const task = `t${++this.nextTask}`;
    const onAbort = () => void this.remote.cancel(task);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.remote.ingest(docs, { upsert, batchSize, task }, onProgress && Comlink.proxy(onProgress));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Starts the m3-search worker (a module worker bundled by Vite and similar tools). */
export function createM3Worker(): M3WorkerClient {
  const worker = new Worker(new URL('./m3.worker.ts', import.meta.url), { type: 'module', name: 'm3-search' });
  return new M3WorkerClient(worker);
}

function abortError(): Error {
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}
