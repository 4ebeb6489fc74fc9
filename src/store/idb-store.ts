/**
 * IndexedDB store (browser; tests use fake-indexeddb). One database per index, named
 * `m3-search:<name>`, with object stores:
 *   meta      'meta' → MetaRecord (tombstones and the segment list live here, so a commit that adds a
 *             segment or deletes documents updates them in the same transaction)
 *   docs      id → DocRecord (text, metadata, chunk spans; read only for get() and hit texts)
 *   segments  seq → SegmentRecord (typed arrays, structured-cloned)
 *   legacy    id → LegacyDoc (only while a v1 database is being migrated)
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { M3ClosedError } from './errors.ts';
import type { LegacyDoc, V1Meta } from './legacy.ts';
import { SCHEMA_VERSION, type CommitBatch, type DocRecord, type HeadBlob, type MetaRecord, type SegmentRecord, type StorageInfo, type Store } from './types.ts';

interface M3DB extends DBSchema {
  meta: { key: string; value: MetaRecord };
  docs: { key: string; value: DocRecord };
  segments: { key: number; value: SegmentRecord };
  legacy: { key: string; value: LegacyDoc };
}

const META_KEY = 'meta';

export interface IdbStoreOptions {
  /** IndexedDB factory; defaults to globalThis.indexedDB. */
  indexedDB?: IDBFactory;
  /** Ask navigator.storage.persist() on open (default true). */
  persist?: boolean;
}

export class IdbStore implements Store {
  readonly kind = 'idb' as const;
  readonly dbName: string;
  private db: IDBPDatabase<M3DB> | null = null;
  private channel: BroadcastChannel | null = null;
  private readonly remoteListeners = new Set<() => void>();
  private readonly versionListeners: (() => void)[] = [];
  private persisted: boolean | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly opts: IdbStoreOptions = {},
  ) {
    this.dbName = `m3-search:${name}`;
  }

  async open(): Promise<MetaRecord | null> {
    const factory = this.opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) throw new Error('IndexedDB is not available here; use FileStore (Node) or MemoryStore');
    // idb's openDB uses the global indexedDB; swap it in for the call when a factory is injected.
    this.db = await withFactory(factory, () =>
      openDB<M3DB>(this.dbName, SCHEMA_VERSION, {
        upgrade: (db, oldVersion, _newVersion, tx) => upgrade(db, oldVersion, tx),
        blocking: () => {
          // Another tab wants to upgrade or delete: let it, and tell our user this instance is done.
          this.close();
          for (const cb of this.versionListeners) cb();
        },
        terminated: () => {
          this.db = null;
          this.closed = true;
        },
      }),
    );
    if (typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(this.dbName);
      (this.channel as { unref?: () => void }).unref?.(); // Node: don't keep the process alive
      this.channel.onmessage = () => {
        for (const cb of this.remoteListeners) cb();
      };
    }
    if (this.opts.persist !== false) this.persisted = await requestPersist();
    return (await this.database().get('meta', META_KEY)) ?? null;
  }

  private database(): IDBPDatabase<M3DB> {
    if (!this.db || this.closed) throw new M3ClosedError(`index "${this.name}" is closed`);
    return this.db;
  }

  async readMeta(): Promise<MetaRecord | null> {
    return (await this.database().get('meta', META_KEY)) ?? null;
  }

  async readSegments(only?: number[]): Promise<SegmentRecord[]> {
    const db = this.database();
    if (!only) return db.getAll('segments');
    const tx = db.transaction('segments');
    const out = await Promise.all(only.map((seq) => tx.store.get(seq)));
    await tx.done;
    return out.filter((s): s is SegmentRecord => s !== undefined);
  }

  getDoc(id: string): Promise<DocRecord | undefined> {
    return this.database().get('docs', id);
  }

  async getDocs(ids: string[]): Promise<(DocRecord | undefined)[]> {
    const tx = this.database().transaction('docs');
    const out = await Promise.all(ids.map((id) => tx.store.get(id)));
    await tx.done;
    return out;
  }

  allDocs(): Promise<DocRecord[]> {
    return this.database().getAll('docs');
  }

  async legacyDocs(limit: number): Promise<LegacyDoc[]> {
    const db = this.database();
    if (!db.objectStoreNames.contains('legacy')) return [];
    return db.getAll('legacy', undefined, limit);
  }

  async commit(batch: CommitBatch): Promise<void> {
    const db = this.database();
    const names: StoreNames<M3DB>[] = ['meta', 'docs', 'segments'];
    if (batch.deleteLegacyIds?.length) names.push('legacy');
    const tx = db.transaction(names, 'readwrite', { durability: 'strict' });
    // Queue every request without awaiting between them; tx.done settles once all have run (or one failed
    // and the whole transaction aborted).
    const reqs: Promise<unknown>[] = [];
    try {
      for (const seq of batch.deleteSegments ?? []) reqs.push(tx.objectStore('segments').delete(seq));
      for (const seg of batch.segments ?? []) reqs.push(tx.objectStore('segments').put(seg));
      for (const id of batch.deleteDocIds ?? []) reqs.push(tx.objectStore('docs').delete(id));
      for (const d of batch.putDocs ?? []) reqs.push(tx.objectStore('docs').put(d));
      for (const id of batch.deleteLegacyIds ?? []) reqs.push(tx.objectStore('legacy').delete(id));
      reqs.push(tx.objectStore('meta').put(batch.meta, META_KEY));
    } catch (e) {
      // put() throws synchronously (DataCloneError, …) without aborting: the requests queued so far
      // would commit. Abort, so the batch is all or nothing.
      tx.abort();
      await tx.done.catch(() => {});
      throw e;
    } finally {
      for (const r of reqs) r.catch(() => {}); // a failure surfaces through tx.done
    }
    await tx.done;
    this.channel?.postMessage({ type: 'commit', seq: batch.meta.nextSeq });
  }

  async reset(meta: MetaRecord | null): Promise<void> {
    const db = this.database();
    const names: StoreNames<M3DB>[] = ['meta', 'docs', 'segments'];
    if (db.objectStoreNames.contains('legacy')) names.push('legacy');
    const tx = db.transaction(names, 'readwrite');
    const reqs: Promise<unknown>[] = names.map((n) => tx.objectStore(n).clear());
    if (meta) reqs.push(tx.objectStore('meta').put(meta, META_KEY));
    for (const r of reqs) r.catch(() => {});
    await tx.done;
    this.channel?.postMessage({ type: 'reset' });
  }

  async storage(): Promise<StorageInfo> {
    const est = await storageEstimate();
    return { usage: est?.usage ?? null, quota: est?.quota ?? null, persisted: this.persisted };
  }

  async withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks?.request) return fn();
    return locks.request(`m3-search:${this.name}`, { mode: 'exclusive' }, fn) as Promise<T>;
  }

  onRemoteCommit(cb: () => void): () => void {
    this.remoteListeners.add(cb);
    return () => this.remoteListeners.delete(cb);
  }

  onVersionChange(cb: () => void): void {
    this.versionListeners.push(cb);
  }

  /**
   * Tuned heads live in a database of their own (`<dbName>#heads`): the index's schema stays as it is, and
   * reset() (clear, re-embed) leaves them alone. The meta record in the main database points at one.
   */
  private async headsDb<T>(fn: (db: IDBPDatabase) => Promise<T>): Promise<T> {
    const factory = this.opts.indexedDB ?? globalThis.indexedDB;
    const db = await withFactory(factory, () => openDB(`${this.dbName}#heads`, 1, { upgrade: (d) => void d.createObjectStore('heads', { keyPath: 'version' }) }));
    try {
      return await fn(db);
    } finally {
      db.close();
    }
  }

  readHeads(): Promise<HeadBlob[]> {
    return this.headsDb((db) => db.getAll('heads') as Promise<HeadBlob[]>);
  }

  async writeHead(head: HeadBlob): Promise<void> {
    await this.headsDb((db) => db.put('heads', head));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel?.close();
    this.channel = null;
    this.db?.close();
    this.db = null;
  }
}

/** Schema migrations, run inside the versionchange transaction. */
function upgrade(
  db: IDBPDatabase<M3DB>,
  oldVersion: number,
  tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>,
): Promise<void> | void {
  if (oldVersion < 1) {
    db.createObjectStore('meta');
    db.createObjectStore('docs', { keyPath: 'id' });
  }
  if (oldVersion < 2) {
    db.createObjectStore('segments', { keyPath: 'seq' });
    if (oldVersion === 1) return migrateV1(db, tx);
  }
}

/**
 * v1 → v2: v1 kept vectors inline in `docs`. Move those records to `legacy` (the index re-ingests them
 * as segments after open) and write a v2 meta that remembers the v1 model id and dims. The head hash and
 * dtype were not recorded in v1: they are left empty and adopted from the encoder on first open.
 */
async function migrateV1(
  db: IDBPDatabase<M3DB>,
  tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>,
): Promise<void> {
  db.createObjectStore('legacy', { keyPath: 'id' });
  const old = (await tx.objectStore('meta').get(META_KEY)) as unknown as V1Meta | undefined;
  let cursor = await tx.objectStore('docs').openCursor();
  while (cursor) {
    await tx.objectStore('legacy').put(cursor.value as unknown as LegacyDoc);
    cursor = await cursor.continue();
  }
  await tx.objectStore('docs').clear();
  const now = Date.now();
  const meta: MetaRecord = {
    schemaVersion: 2,
    modelId: old?.modelId ?? '',
    dims: old?.dims ?? 0,
    headHash: '',
    dtype: '',
    colbert: false,
    nextKey: 0,
    nextSeq: 0,
    docCount: 0,
    tombstones: [],
    segments: [],
    createdAt: now,
    updatedAt: now,
  };
  await tx.objectStore('meta').put(meta, META_KEY);
}

async function withFactory<T>(factory: IDBFactory, fn: () => Promise<T>): Promise<T> {
  const g = globalThis as { indexedDB?: IDBFactory };
  if (g.indexedDB === factory) return fn();
  // openDB calls indexedDB.open synchronously, so the global only needs swapping for that call.
  const prev = g.indexedDB;
  g.indexedDB = factory;
  let p: Promise<T>;
  try {
    p = fn();
  } finally {
    g.indexedDB = prev;
  }
  return p;
}

async function requestPersist(): Promise<boolean | null> {
  const s = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!s?.persist) return null;
  try {
    return (await s.persisted?.()) || (await s.persist());
  } catch {
    return null;
  }
}

async function storageEstimate(): Promise<StorageEstimate | null> {
  const s = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!s?.estimate) return null;
  try {
    return await s.estimate();
  } catch {
    return null;
  }
}
