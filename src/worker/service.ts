/**
 * What runs inside the worker: one encoder and one open index, driven through the M3WorkerApi.
 * Kept free of Comlink so it can be used (and tested) directly; m3.worker.ts exposes it.
 */
import type { EncoderInfo } from '../encoder/load-options.ts';
import { M3Encoder } from '../encoder/m3-encoder.ts';
import type { LoadProgress } from '../encoder/model-source.ts';
import type { EncodeOptions, M3Embedding } from '../encoder/types.ts';
import { M3Index, type IndexInfo } from '../search/m3-index.ts';
import { exportStore, parsePortable, writePortable, type PortableIndex } from '../search/portable.ts';
import type { StaticProgress } from '../static/loader.ts';
import type { EncoderLike, IndexDoc, IngestProgress, SearchQuery } from '../search/types.ts';
import { M3IndexMismatchError, modelMismatch } from '../store/errors.ts';
import { IdbStore } from '../store/idb-store.ts';
import type { ModelIdentity, Store } from '../store/types.ts';
import { HiddenCache } from '../tune/hidden-cache.ts';
import { listHeads } from '../tune/head-store.ts';
import { postingsPerDoc, revertSparseHead, tuneSparseHead, type TuneProgress, type TuneResult } from '../tune/tune.ts';
import type { WorkerHeadsInfo, WorkerTuneOptions } from './api.ts';
import type { M3WorkerApi, WorkerIndexOptions, WorkerIngestOptions, WorkerLoadOptions, WorkerSearchOptions, WorkerSearchResult, WorkerStatus } from './api.ts';
import { tuningAccess } from '../search/tuning-access.ts';

/** How often progress callbacks cross to the page at most: each crossing is a message the page must handle. */
const PROGRESS_INTERVAL_MS = 50;

export interface ServiceOptions {
  /** Where indexes live (default: IndexedDB, one database per index name). */
  makeStore?: (name: string) => Store;
  /** Loads an encoder (default M3Encoder.load); tests pass a fake. */
  loadEncoder?: (options: WorkerLoadOptions, onProgress: (p: LoadProgress) => void) => Promise<EncoderLike & { info: EncoderInfo; dispose?(): Promise<void> }>;
}

export class M3Service implements M3WorkerApi {
  private encoder: (EncoderLike & { info: EncoderInfo; dispose?(): Promise<void> }) | null = null;
  private index: M3Index | null = null;
  private store: Store | null = null;
  private indexName = '';
  private indexOptions: WorkerIndexOptions = {};
  private readonly tasks = new Map<string, AbortController>();
  private readonly makeStore: (name: string) => Store;
  private readonly loadEncoder: NonNullable<ServiceOptions['loadEncoder']>;

  constructor(options: ServiceOptions = {}) {
    this.makeStore = options.makeStore ?? ((name) => new IdbStore(name));
    this.loadEncoder = options.loadEncoder ?? ((o, onProgress) => M3Encoder.load({ ...o, onProgress }));
  }

  async loadModel(options: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EncoderInfo> {
    // Loaded beside the current encoder, which is replaced only once the new one works.
    const next = await this.loadEncoder(
      options,
      throttle(onProgress, (p) => p.status !== 'progress'),
    );
    const old = this.encoder;
    this.encoder = next;
    await this.closeIndex(); // its vectors belong to the old model
    if (old && old !== next) await old.dispose?.().catch(() => undefined);
    return next.info;
  }

  async openIndex(name: string, options: WorkerIndexOptions = {}): Promise<IndexInfo> {
    if (!this.encoder) throw new Error('load a model before opening an index');
    await this.closeIndex();
    const store = this.makeStore(name);
    this.index = await M3Index.open(name, { ...options, encoder: this.encoder, store });
    this.store = store;
    this.indexName = name;
    this.indexOptions = options;
    return this.index.info;
  }

  async closeIndex(): Promise<void> {
    this.index?.close();
    this.index = null;
    this.store = null;
  }

  async ingest(docs: IndexDoc[], options: WorkerIngestOptions = {}, onProgress?: (p: IngestProgress) => void): Promise<{ done: number }> {
    const index = this.open();
    const controller = new AbortController();
    if (options.task) this.tasks.set(options.task, controller);
    try {
      const opts = {
        batchSize: options.batchSize,
        signal: controller.signal,
        onProgress: throttle(onProgress, (p) => p.phase === 'write' && p.done === p.total),
      };
      const n = options.upsert ? (await index.upsert(docs, opts)).upserted : (await index.add(docs, opts)).added;
      return { done: n };
    } finally {
      if (options.task) this.tasks.delete(options.task);
    }
  }

  async cancel(task: string): Promise<void> {
    this.tasks.get(task)?.abort();
  }

  async search(query: SearchQuery, options: WorkerSearchOptions = {}): Promise<WorkerSearchResult> {
    const index = this.open();
    const t0 = performance.now();
    const hits = await index.search(query, options);
    return { hits, ms: performance.now() - t0 };
  }

  async encode(texts: string[], options?: EncodeOptions): Promise<M3Embedding[]> {
    if (!this.encoder) throw new Error('no model loaded');
    return this.encoder.encode(texts, options);
  }

  async get(id: string) {
    return this.open().get(id);
  }

  async remove(ids: string[]): Promise<number> {
    return this.open().remove(ids);
  }

  async count(): Promise<number> {
    return this.index?.count() ?? 0;
  }

  async clear(): Promise<void> {
    await this.open().clear();
  }

  async storage() {
    const index = this.open();
    return { ...(await index.storage()), count: index.count() };
  }

  async status(): Promise<WorkerStatus> {
    return { encoder: this.encoder?.info ?? null, index: this.index?.info ?? null, crossOriginIsolated: !!globalThis.crossOriginIsolated };
  }

  async exportIndex(): Promise<Uint8Array> {
    this.open();
    return exportStore(this.store!);
  }

  async importIndex(bytes: Uint8Array): Promise<IndexInfo> {
    // Everything is checked first; a refused file throws here with the current index untouched.
    return this.replaceIndex(await parsePortable(bytes, this.identity()));
  }

  async importStatic(url: string, onProgress?: (p: StaticProgress) => void): Promise<IndexInfo & { version: string }> {
    // Loaded on first use, as M3Index.fromStatic does: an app that never imports a package doesn't carry it.
    const { fetchStaticPackage } = await import('../static/loader.ts');
    const { manifest, contents } = await fetchStaticPackage(url, { model: this.identity(), onProgress: throttle(onProgress, (p) => p.phase !== 'download') });
    return { ...(await this.replaceIndex(contents)), version: manifest.version };
  }

  /** The open index's model identity: what an imported file or package must have been built with. */
  private identity(): ModelIdentity {
    const { modelId, dims, headHash, dtype } = this.open().info;
    return { modelId, dims, headHash, dtype };
  }

  /** Replaces the open index's contents with checked ones, in one atomic write (a failure leaves it as it was). */
  private async replaceIndex(parsed: PortableIndex): Promise<IndexInfo> {
    // Contents the open index could not be reopened with (another dtype: q8 and fp32 vectors differ) are
    // refused before anything is written, not found out after the write when reopening fails.
    const want = this.identity();
    const got: ModelIdentity = { modelId: parsed.meta.modelId, dims: parsed.meta.dims, headHash: parsed.meta.headHash, dtype: parsed.meta.dtype };
    const diff = modelMismatch(got, want);
    if (diff.length) throw new M3IndexMismatchError(got, want, diff);
    await this.closeIndex();
    const store = this.makeStore(this.indexName);
    let failed: { error: unknown } | null = null;
    try {
      await store.open();
      await writePortable(store, parsed);
    } catch (error) {
      failed = { error };
    } finally {
      store.close();
    }
    const info = await this.openIndex(this.indexName, this.indexOptions); // the old index after a failure
    if (failed) throw failed.error;
    return info;
  }

  // ---- head tuning (issue 5). The hidden-state cache lives as long as the model: tuning again, or
  // reverting, needs no forward pass for texts already seen.
  private tuneCache: { encoder: unknown; cache: HiddenCache } | null = null;

  private cacheFor(bytes?: number): HiddenCache {
    const enc = this.encoder as unknown as ConstructorParameters<typeof HiddenCache>[0];
    if (!this.tuneCache || this.tuneCache.encoder !== enc || (bytes !== undefined && this.tuneCache.cache.maxBytes !== bytes)) {
      this.tuneCache = { encoder: enc, cache: new HiddenCache(enc, bytes !== undefined ? { maxBytes: bytes } : {}) };
    }
    return this.tuneCache.cache;
  }

  async tune(options: WorkerTuneOptions = {}, onProgress?: (p: TuneProgress) => void): Promise<TuneResult> {
    const index = this.open();
    const { task, ...rest } = options;
    const controller = new AbortController();
    if (task) this.tasks.set(task, controller);
    try {
      const send = throttle(onProgress, (p) => p.heldOut !== undefined || p.done === p.total);
      return await tuneSparseHead(index, { ...rest, cache: this.cacheFor(rest.cacheBytes), signal: controller.signal, onProgress: send });
    } finally {
      if (task) this.tasks.delete(task);
    }
  }

  async revertTune(onProgress?: (p: TuneProgress) => void): Promise<WorkerHeadsInfo> {
    const index = this.open();
    await revertSparseHead(index, { cache: this.cacheFor(), onProgress: throttle(onProgress, (p) => p.done === p.total) });
    return this.heads();
  }

  async heads(): Promise<WorkerHeadsInfo> {
    const index = this.open();
    const versions = (await listHeads(tuningAccess(index).store)).map(({ version, hash, createdAt, options, metrics }) => ({
      version,
      hash,
      createdAt,
      options,
      metrics,
    }));
    return { active: tuningAccess(index).meta.sparseHead ?? null, versions, postingsPerDoc: postingsPerDoc(index) };
  }

  private open(): M3Index {
    if (!this.index) throw new Error(this.encoder ? 'no index is open: call openIndex(name) first' : 'load a model and open an index first');
    return this.index;
  }
}

/** Forwards at most one call per interval, but always those `mustSend` picks (starts, ends). */
function throttle<T>(fn: ((p: T) => void) | undefined, mustSend: (p: T) => boolean): (p: T) => void {
  if (!fn) return () => {};
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (!mustSend(p) && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    fn(p);
  };
}
