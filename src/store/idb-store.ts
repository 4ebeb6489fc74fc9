/**
 * IndexedDB store (browser; tests use fake-indexeddb): the Store over one database per index. Its object
 * stores, version and migrations are in idb-schema.ts; texts are kept in groups (idb-text-groups.ts) read
 * through a cache (idb-text-cache.ts); the write transactions are in idb-writes.ts, tuned heads in
 * idb-heads.ts. This class holds one connection's state: the last meta seen, the ids of the segments read,
 * and the cross-tab channel.
 */
import { type IDBPDatabase, openDB } from 'idb';
import { withLock } from '../util/web-locks.ts';
import { requestPersist, storageEstimate } from './browser-storage.ts';
import { crc32Fast } from './crc32-wasm.ts';
import { M3ClosedError, M3StorageError } from './errors.ts';
import { withFactory } from './idb-factory.ts';
import { readHeads, writeHead } from './idb-heads.ts';
import { IDB_VERSION, type M3DB, META_KEY, upgrade } from './idb-schema.ts';
import { type TextGroup, TextGroupCache } from './idb-text-cache.ts';
import { MODEL_SEQ, TEXT_GROUP, type TextBlock, type TextEntry } from './idb-text-groups.ts';
import type { TextPacker } from './idb-text-pack.ts';
import type { TextModelRecord } from './text-code.ts';
import { writeCommit, writeReplace, writeReset } from './idb-writes.ts';
import type { LegacyDoc } from './legacy.ts';
import type { PostingChecks } from './posting-checks.ts';
import { type DeferChecks, segmentChecksum, segmentProblem } from './segment-check.ts';
import {
  type CommitBatch,
  type CommitOptions,
  type DocRecord,
  type HeadBlob,
  type MetaRecord,
  type PackedTexts,
  type ReadSegmentsOptions,
  SCHEMA_VERSION,
  type SegmentRecord,
  type StorageInfo,
  type Store,
} from './types.ts';

export interface IdbStoreOptions {
  /** IndexedDB factory; defaults to globalThis.indexedDB. */
  indexedDB?: IDBFactory;
  /** Ask navigator.storage.persist() on open (default true). */
  persist?: boolean;
  /**
   * Read every stored text into memory (one background read after the first page of hits asks for texts), so
   * later pages decode from memory instead of opening an IndexedDB transaction: ~100 B per document with coded
   * text groups. Default true up to PRELOAD_TEXTS_MAX_DOCS live documents; false keeps texts on disk.
   */
  preloadTexts?: boolean;
}

/** Above this many live documents texts stay on disk unless preloadTexts is true (~100 MB of coded texts). */
export const PRELOAD_TEXTS_MAX_DOCS = 1_000_000;

export class IdbStore implements Store {
  readonly kind = 'idb' as const;
  readonly dbName: string;
  private db: IDBPDatabase<M3DB> | null = null;
  private channel: BroadcastChannel | null = null;
  private readonly remoteListeners = new Set<() => void>();
  private readonly versionListeners: (() => void)[] = [];
  private persisted: boolean | null = null;
  private closed = false;
  /** Last meta seen (open, readMeta, commit, reset): its tombstones hide dead rows' texts. */
  private meta: MetaRecord | null = null;
  private dead: { of: MetaRecord | null; keys: Set<number> } = { of: null, keys: new Set() };
  /** Ids and keys of every segment this connection has read or written, by seq. */
  private segIds = new Map<number, Pick<SegmentRecord, 'ids' | 'keys' | 'metadata'>>();
  /** id → [seq, row] over the meta's segments (newest wins); null = rebuild on next use. */
  private where: Map<string, [number, number]> | null = new Map();
  private readonly texts: TextGroupCache;
  /** The write side of texts (idb-text-pack.ts, loaded on the first write), with the index's text models. */
  private packer: Promise<TextPacker> | null = null;
  /** Text models known to be in the database (read, or written by a commit that succeeded). */
  private readonly savedModels = new Set<number>();
  /** Every text model this connection packed with (a reset drops the packer, not a batch packed before it). */
  private readonly packedModels = new Map<number, TextModelRecord>();

  constructor(
    readonly name: string,
    private readonly opts: IdbStoreOptions = {},
  ) {
    this.dbName = `m3-search:${name}`;
    this.texts = new TextGroupCache(() => this.database(), this.dbName);
  }

  async open(): Promise<MetaRecord | null> {
    const factory = this.opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) throw new Error('IndexedDB is not available here; use FileStore (Node) or MemoryStore');
    // idb's openDB uses the global indexedDB; swap it in for the call when a factory is injected.
    this.db = await withFactory(factory, () =>
      openDB<M3DB>(this.dbName, IDB_VERSION, {
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
    return this.setMeta((await this.database().get('meta', META_KEY)) ?? null);
  }

  private setMeta(m: MetaRecord | null): MetaRecord | null {
    if (m?.updatedAt !== this.meta?.updatedAt || m?.nextSeq !== this.meta?.nextSeq) this.where = null;
    this.meta = m;
    return m;
  }

  private remember(seg: SegmentRecord): void {
    if (!this.segIds.has(seg.seq)) this.where = null;
    this.segIds.set(seg.seq, { ids: seg.ids, keys: seg.keys, metadata: seg.metadata });
  }

  /** The live id → [seq, row] map; reads the ids of listed segments this connection has not seen. */
  private async locate(): Promise<Map<string, [number, number]>> {
    const listed = this.meta?.segments ?? [];
    const missing = listed.filter((s) => !this.segIds.has(s));
    if (missing.length) {
      const tx = this.database().transaction('segments');
      const segs = await Promise.all(missing.map((seq) => tx.store.get(seq)));
      await tx.done;
      for (const s of segs) if (s) this.remember(s);
    }
    if (!this.where) {
      const where = new Map<string, [number, number]>();
      for (const seq of [...listed].sort((a, b) => a - b)) {
        const s = this.segIds.get(seq);
        if (s) for (let i = 0; i < s.ids.length; i++) where.set(s.ids[i], [seq, i]);
      }
      for (const seq of this.segIds.keys()) if (!listed.includes(seq)) this.segIds.delete(seq);
      this.where = where;
    }
    return this.where;
  }

  private deadKeys(): Set<number> {
    if (this.dead.of !== this.meta) this.dead = { of: this.meta, keys: new Set(this.meta?.tombstones ?? []) };
    return this.dead.keys;
  }

  private async docAt(
    id: string,
    seq: number,
    row: number,
    block: Promise<TextGroup> = this.texts.block(seq, Math.floor(row / TEXT_GROUP)),
  ): Promise<DocRecord | undefined> {
    const s = this.segIds.get(seq);
    const e = (await block).entry(row % TEXT_GROUP);
    if (!s || !e) return undefined;
    const metadata = s.metadata[row];
    return { id, key: s.keys[row], text: e[0], ...(metadata ? { metadata } : {}), ...(e[1] ? { chunks: { spans: e[1] } } : {}) };
  }

  private database(): IDBPDatabase<M3DB> {
    if (!this.db || this.closed) throw new M3ClosedError(`index "${this.name}" is closed`);
    return this.db;
  }

  async readMeta(): Promise<MetaRecord | null> {
    return this.setMeta((await this.database().get('meta', META_KEY)) ?? null);
  }

  async readSegments(only?: number[], opts: ReadSegmentsOptions = {}): Promise<SegmentRecord[]> {
    const db = this.database();
    const checks = opts.deferChecks;
    let out: SegmentRecord[];
    if (!only) out = await db.getAll('segments');
    else {
      // Each record is checked as it arrives, while IndexedDB reads the next ones: the checks overlap the read
      // instead of following it (they are most of a cold open's time beyond the read itself).
      const tx = db.transaction('segments');
      const got = await Promise.all(
        only.map((seq) =>
          tx.store.get(seq).then((s) => {
            if (s) this.verify(s, checks);
            return s;
          }),
        ),
      );
      await tx.done;
      out = got.filter((s): s is SegmentRecord => s !== undefined);
      for (const s of out) this.remember(s); // get() needs no second read of the segments
      return out;
    }
    for (const s of out) this.verify(s, checks);
    for (const s of out) this.remember(s);
    return out;
  }

  /**
   * Structure and checksum of a segment record read back; refuses a damaged one by name. With `checks`, its posting
   * lists' structure is left to first use (the checksum is not: every byte is covered before any is used).
   */
  private verify(seg: SegmentRecord, checks?: PostingChecks): void {
    const defer: DeferChecks | undefined =
      checks && ((block, groups, group, whole) => checks.defer(block, groups, group, whole, (p) => this.corrupt(seg.seq, p)));
    const problem =
      segmentProblem(seg, this.meta?.dims, defer) ??
      (seg.checksum !== segmentChecksum(seg) ? 'checksum mismatch: the record was damaged after it was written' : null);
    if (problem) throw this.corrupt(seg.seq, problem);
  }

  private corrupt(seq: number, problem: string): M3StorageError {
    return new M3StorageError(
      'CORRUPT',
      `IndexedDB database "${this.dbName}", segment record ${seq}: ${problem}; ` +
        'clear the index (index.clear(), or delete the database) and index again, or import an exported copy',
    );
  }

  async getDoc(id: string): Promise<DocRecord | undefined> {
    return (await this.getDocs([id]))[0];
  }

  async getDocs(ids: string[]): Promise<(DocRecord | undefined)[]> {
    this.database();
    let where = await this.locate();
    if (ids.some((id) => !where.has(id))) {
      // Perhaps another tab committed since: catch up once before answering "not found".
      await this.readMeta();
      where = await this.locate();
    }
    const dead = this.deadKeys();
    const live = ids.map((id) => {
      const w = where.get(id);
      return w && !dead.has(this.segIds.get(w[0])!.keys[w[1]]) ? w : undefined;
    });
    const blocks = this.texts.blocksOf(live.filter((w) => w !== undefined).map(([seq, row]) => [seq, Math.floor(row / TEXT_GROUP)]));
    const preload = this.opts.preloadTexts ?? (this.meta?.docCount ?? 0) <= PRELOAD_TEXTS_MAX_DOCS;
    if (preload) this.texts.warm(); // after this page's reads: they are queued first
    return Promise.all(
      ids.map((id, i) => {
        const w = live[i];
        return w && this.docAt(id, w[0], w[1], blocks.get(`${w[0]}:${Math.floor(w[1] / TEXT_GROUP)}`));
      }),
    );
  }

  async allDocs(): Promise<DocRecord[]> {
    this.database();
    await this.readMeta();
    const where = await this.locate();
    const dead = this.deadKeys();
    const out: DocRecord[] = [];
    for (const [id, [seq, row]] of where) {
      if (dead.has(this.segIds.get(seq)!.keys[row])) continue;
      const d = await this.docAt(id, seq, row);
      if (d) out.push(d);
    }
    return out;
  }

  async legacyDocs(limit: number): Promise<LegacyDoc[]> {
    const db = this.database();
    if (!db.objectStoreNames.contains('legacy')) return [];
    return db.getAll('legacy', undefined, limit);
  }

  /** A new segment's texts (row order) as text groups: ingest packs them before the write lock. */
  async packTexts(docs: Pick<DocRecord, 'id' | 'text' | 'chunks'>[]): Promise<PackedTexts> {
    const packer = await this.textPacker();
    const made = await packer.pack(docs.map((d): TextEntry => (d.chunks ? [d.text, d.chunks.spans] : [d.text])));
    if (made.model !== undefined) this.packedModels.set(made.model, packer.record(made.model)!);
    return { ids: docs.map((d) => d.id), ...made };
  }

  /** The packer, with the models stored in the database (read once per connection, and after a reset). */
  private textPacker(): Promise<TextPacker> {
    this.packer ??= (async () => {
      const [{ TextPacker }, records] = await Promise.all([
        import('./idb-text-pack.ts'),
        this.database().getAll('texts', IDBKeyRange.bound([MODEL_SEQ, -Infinity], [MODEL_SEQ, Infinity])),
      ]);
      const stored = new Map<number, TextModelRecord>();
      for (const r of records) if (r.model) stored.set(r.g, r.model);
      for (const id of stored.keys()) this.savedModels.add(id);
      return new TextPacker(stored);
    })();
    this.packer.catch(() => (this.packer = null));
    return this.packer;
  }

  /** Text blocks of `segments` and the model records they need (TextPacker.blocks); `all`: the store is cleared first. */
  private async blocksFor(
    segments: SegmentRecord[],
    given: Map<string, DocRecord>,
    meta: MetaRecord,
    packed: (PackedTexts | undefined)[],
    all: boolean,
  ): Promise<TextBlock[]> {
    const packer = await this.textPacker();
    const blocks = await packer.blocks(segments, given, meta, (ids) => this.getDocs(ids), packed, all ? new Set() : this.savedModels, this.packedModels);
    for (const b of blocks) if (b.c) b.k = crc32Fast(b.c);
    return blocks;
  }

  async commit(batch: CommitBatch, opts: CommitOptions = {}): Promise<void> {
    const db = this.database();
    const given = new Map((batch.putDocs ?? []).map((d) => [d.id, d]));
    const blocks = await this.blocksFor(batch.segments ?? [], given, batch.meta, batch.packedTexts ?? [], false);
    await writeCommit(db, batch, blocks, opts.onQueued);
    for (const b of blocks) if (b.model) this.savedModels.add(b.g);
    if (batch.deleteSegments?.length) this.texts.clear();
    for (const seg of batch.segments ?? []) this.remember(seg);
    this.setMeta(batch.meta);
    this.channel?.postMessage({ type: 'commit', seq: batch.meta.nextSeq });
  }

  /** One transaction: every store cleared, the new segments, texts and meta put; all or nothing. */
  async replace(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[]): Promise<void> {
    const db = this.database();
    const byId = new Map(docs.map((d) => [d.id, d]));
    const blocks = await this.blocksFor(segments, byId, meta, [], true);
    await writeReplace(db, meta, segments, blocks);
    this.savedModels.clear();
    for (const b of blocks) if (b.model) this.savedModels.add(b.g);
    this.segIds.clear();
    this.texts.clear();
    this.where = null;
    this.meta = { ...meta, schemaVersion: SCHEMA_VERSION };
    this.channel?.postMessage({ type: 'reset' });
  }

  async reset(meta: MetaRecord | null): Promise<void> {
    await writeReset(this.database(), meta);
    // The models went with the texts: the next batch trains a new one.
    this.packer = null;
    this.savedModels.clear();
    this.segIds.clear();
    this.texts.clear();
    this.where = null;
    this.meta = meta;
    this.channel?.postMessage({ type: 'reset' });
  }

  async storage(): Promise<StorageInfo> {
    const est = await storageEstimate();
    return { usage: est?.usage ?? null, quota: est?.quota ?? null, persisted: this.persisted };
  }

  async withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(`m3-search:${this.name}`, fn);
  }

  onRemoteCommit(cb: () => void): () => void {
    this.remoteListeners.add(cb);
    return () => this.remoteListeners.delete(cb);
  }

  onVersionChange(cb: () => void): void {
    this.versionListeners.push(cb);
  }

  /** Tuned heads: in a database of their own (idb-heads.ts), which reset() leaves alone. */
  readHeads(): Promise<HeadBlob[]> {
    return readHeads(this.opts.indexedDB ?? globalThis.indexedDB, this.dbName);
  }

  async writeHead(head: HeadBlob): Promise<void> {
    await writeHead(this.opts.indexedDB ?? globalThis.indexedDB, this.dbName, head);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel?.close();
    this.channel = null;
    this.db?.close();
    this.db = null;
    this.segIds.clear();
    this.texts.clear();
    this.where = null;
  }
}
