/**
 * IndexedDB store (browser; tests use fake-indexeddb). One database per index, named
 * `m3-search:<name>`, with object stores:
 *   meta      'meta' → MetaRecord (tombstones and the segment list live here, so a commit that adds a
 *             segment or deletes documents updates them in the same transaction)
 *   segments  seq → SegmentRecord (typed arrays, structured-cloned)
 *   texts     [seq, group] → TextBlock: the texts (and chunk spans) of TEXT_GROUP consecutive documents of
 *             one segment in one raw-deflated record. A few puts per batch instead of one per document,
 *             texts compress ~3×, and a hit's text costs one small record to inflate, not a segment's. Ids,
 *             keys and metadata are already in the segment, so a DocRecord is rebuilt from both; the
 *             id → (segment, row) map comes from the segments the index reads on open anyway, so
 *             searches that return no texts still read nothing.
 *   legacy    id → LegacyDoc (only while a v1 database is being migrated)
 *
 * IndexedDB versions: 1 = v1 layout (vectors inline in docs), 2 = segments + docs (id → DocRecord),
 * 3 = segments + texts, 4 = segment records carry a checksum (schema 3), verified with the record's
 * structure whenever a segment is read: a damaged record is refused by name, never searched;
 * 5 = postings gap + varint coded (schema 4, store/postings.ts).
 */
import { withLock } from '../util/web-locks.ts';
import { withFactory } from './idb-factory.ts';
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { M3ClosedError, M3StorageError } from './errors.ts';
import type { LegacyDoc, V1Meta } from './legacy.ts';
import { compactPostings, type LegacySegment } from './postings.ts';
import { legacySegmentChecksum, segmentChecksum, segmentProblem } from './segment-check.ts';
import {
  SCHEMA_VERSION,
  type CommitBatch,
  type CommitOptions,
  type DocRecord,
  type HeadBlob,
  type MetaRecord,
  type SegmentRecord,
  type StorageInfo,
  type Store,
} from './types.ts';

/** Per document of a segment: [text] or [text, chunk spans]; null where v2 had no record (a dead row). */
type TextEntry = [string] | [string, [number, number][]] | null;

/** Rows g·TEXT_GROUP… of segment `seq`: `z` (deflate-raw of the entries' JSON) or, from a migration, `docs`. */
interface TextBlock {
  seq: number;
  g: number;
  z?: Uint8Array;
  docs?: TextEntry[];
}

interface M3DB extends DBSchema {
  meta: { key: string; value: MetaRecord };
  /** v2 only: read by the v1 and v2 migrations, then dropped. */
  docs: { key: string; value: DocRecord };
  segments: { key: number; value: SegmentRecord };
  texts: { key: [number, number]; value: TextBlock };
  legacy: { key: string; value: LegacyDoc };
}

const META_KEY = 'meta';
const IDB_VERSION = 5;
/**
 * Documents per text record. Small enough that a hit's text inflates and parses in well under a millisecond
 * (~20 KB of JSON for typical passages), big enough to keep deflate's ratio and the puts per batch few.
 */
const TEXT_GROUP = 32;
/** Decoded text groups kept in memory (a page of hits touches at most k of them). */
const BLOCK_CACHE = 64;

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
  /** Last meta seen (open, readMeta, commit, reset): its tombstones hide dead rows' texts. */
  private meta: MetaRecord | null = null;
  private dead: { of: MetaRecord | null; keys: Set<number> } = { of: null, keys: new Set() };
  /** Ids and keys of every segment this connection has read or written, by seq. */
  private segIds = new Map<number, Pick<SegmentRecord, 'ids' | 'keys' | 'metadata'>>();
  /** id → [seq, row] over the meta's segments (newest wins); null = rebuild on next use. */
  private where: Map<string, [number, number]> | null = new Map();
  private blocks = new Map<string, Promise<TextEntry[]>>();

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

  private block(seq: number, g: number): Promise<TextEntry[]> {
    return this.blocksOf([[seq, g]]).get(`${seq}:${g}`)!;
  }

  /**
   * The text groups `pairs` ([seq, group]) name, each read and inflated once, those not cached in one
   * transaction. A phrase check can ask for tens of thousands of documents at once, far more than the
   * cache holds: asking per document re-read and re-inflated a group for every one of its 32 documents.
   */
  private blocksOf(pairs: Iterable<[number, number]>): Map<string, Promise<TextEntry[]>> {
    const out = new Map<string, Promise<TextEntry[]>>();
    let tx: IDBPTransaction<M3DB, ['texts'], 'readonly'> | undefined;
    for (const [seq, g] of pairs) {
      const id = `${seq}:${g}`;
      if (out.has(id)) continue;
      let p = this.blocks.get(id);
      if (!p) {
        tx ??= this.database().transaction(['texts'], 'readonly');
        p = tx.store.get([seq, g]).then((b) => (!b ? [] : (b.docs ?? inflateEntries(b.z!))));
        p.catch(() => this.blocks.delete(id));
        if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
        this.blocks.set(id, p);
      }
      out.set(id, p);
    }
    tx?.done.catch(() => {}); // a failed read rejects its own promise; this only keeps the abort from going unhandled
    return out;
  }

  private async docAt(id: string, seq: number, row: number, block = this.block(seq, Math.floor(row / TEXT_GROUP))): Promise<DocRecord | undefined> {
    const s = this.segIds.get(seq);
    const e = (await block)[row % TEXT_GROUP];
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

  async readSegments(only?: number[]): Promise<SegmentRecord[]> {
    const db = this.database();
    let out: SegmentRecord[];
    if (!only) out = await db.getAll('segments');
    else {
      const tx = db.transaction('segments');
      const got = await Promise.all(only.map((seq) => tx.store.get(seq)));
      await tx.done;
      out = got.filter((s): s is SegmentRecord => s !== undefined);
    }
    for (const s of out) this.verify(s);
    for (const s of out) this.remember(s); // get() needs no second read of the segments
    return out;
  }

  /** Structure and checksum of a segment record read back; refuses a damaged one by name. */
  private verify(seg: SegmentRecord): void {
    const problem =
      segmentProblem(seg, this.meta?.dims) ?? (seg.checksum !== segmentChecksum(seg) ? 'checksum mismatch: the record was damaged after it was written' : null);
    if (problem) {
      throw new M3StorageError(
        'CORRUPT',
        `IndexedDB database "${this.dbName}", segment record ${seg.seq}: ${problem}; ` +
          'clear the index (index.clear(), or delete the database) and index again, or import an exported copy',
      );
    }
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
    const blocks = this.blocksOf(live.filter((w) => w !== undefined).map(([seq, row]) => [seq, Math.floor(row / TEXT_GROUP)]));
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

  /**
   * Text blocks of `segments`, built and compressed before a transaction opens (a transaction with nothing
   * queued auto-commits across an await). Documents not in `given` (compaction, head rewrites) are carried
   * over from the blocks they live in now; rows dead in `meta` (an imported package keeps its tombstones)
   * have none.
   */
  private async textBlocks(segments: SegmentRecord[], given: Map<string, DocRecord>, meta: MetaRecord): Promise<TextBlock[]> {
    const blocks: TextBlock[] = [];
    let deadAfter: Set<number> | null = null;
    for (const seg of segments) {
      const need = seg.ids.filter((id) => !given.has(id));
      const old = need.length ? await this.getDocs(need) : [];
      const carried = new Map(need.map((id, i) => [id, old[i]]));
      const entries: TextEntry[] = seg.ids.map((id, i) => {
        const d = given.get(id) ?? carried.get(id);
        if (!d || d.key !== seg.keys[i]) {
          deadAfter ??= new Set(meta.tombstones);
          if (deadAfter.has(seg.keys[i])) return null;
          throw new Error(`IdbStore: no document record for "${id}"`);
        }
        return d.chunks ? [d.text, d.chunks.spans] : [d.text];
      });
      const groups: Promise<TextBlock>[] = [];
      for (let g = 0; g * TEXT_GROUP < entries.length; g++) {
        groups.push(deflateEntries(entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP)).then((z) => ({ seq: seg.seq, g, z })));
      }
      for (const b of await Promise.all(groups)) blocks.push(b);
    }
    return blocks;
  }

  async commit(batch: CommitBatch, opts: CommitOptions = {}): Promise<void> {
    const db = this.database();
    const blocks = await this.textBlocks(batch.segments ?? [], new Map((batch.putDocs ?? []).map((d) => [d.id, d])), batch.meta);
    const names: StoreNames<M3DB>[] = ['meta', 'texts', 'segments'];
    if (batch.deleteLegacyIds?.length) names.push('legacy');
    const tx = db.transaction(names, 'readwrite', { durability: 'strict' });
    // Queue every request without awaiting between them; tx.done settles once all have run (or one failed
    // and the whole transaction aborted).
    const reqs: Promise<unknown>[] = [];
    try {
      for (const seq of batch.deleteSegments ?? [])
        reqs.push(tx.objectStore('segments').delete(seq), tx.objectStore('texts').delete(IDBKeyRange.bound([seq, 0], [seq, Infinity])));
      for (const seg of batch.segments ?? []) reqs.push(tx.objectStore('segments').put({ ...seg, checksum: segmentChecksum(seg) }));
      for (const b of blocks) reqs.push(tx.objectStore('texts').put(b));
      // deleteDocIds: a removed document's text stays in its block, hidden by the tombstone, until
      // compaction rewrites the segment.
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
    opts.onQueued?.();
    await tx.done;
    if (batch.deleteSegments?.length) this.blocks.clear();
    for (const seg of batch.segments ?? []) this.remember(seg);
    this.setMeta(batch.meta);
    this.channel?.postMessage({ type: 'commit', seq: batch.meta.nextSeq });
  }

  /** One transaction: every store cleared, the new segments, texts and meta put; all or nothing. */
  async replace(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[]): Promise<void> {
    const db = this.database();
    const byId = new Map(docs.map((d) => [d.id, d]));
    const blocks = await this.textBlocks(segments, byId, meta);
    const sealed = segments.map((seg) => ({ ...seg, checksum: segmentChecksum(seg) }));
    const names: StoreNames<M3DB>[] = ['meta', 'texts', 'segments'];
    if (db.objectStoreNames.contains('legacy')) names.push('legacy');
    const tx = db.transaction(names, 'readwrite', { durability: 'strict' });
    const reqs: Promise<unknown>[] = [];
    try {
      for (const n of names) reqs.push(tx.objectStore(n).clear());
      for (const seg of sealed) reqs.push(tx.objectStore('segments').put(seg));
      for (const b of blocks) reqs.push(tx.objectStore('texts').put(b));
      reqs.push(tx.objectStore('meta').put({ ...meta, schemaVersion: SCHEMA_VERSION }, META_KEY));
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => {});
      throw e;
    } finally {
      for (const r of reqs) r.catch(() => {});
    }
    await tx.done;
    this.segIds.clear();
    this.blocks.clear();
    this.where = null;
    this.meta = { ...meta, schemaVersion: SCHEMA_VERSION };
    this.channel?.postMessage({ type: 'reset' });
  }

  async reset(meta: MetaRecord | null): Promise<void> {
    const db = this.database();
    const names: StoreNames<M3DB>[] = ['meta', 'texts', 'segments'];
    if (db.objectStoreNames.contains('legacy')) names.push('legacy');
    const tx = db.transaction(names, 'readwrite');
    const reqs: Promise<unknown>[] = names.map((n) => tx.objectStore(n).clear());
    if (meta) reqs.push(tx.objectStore('meta').put(meta, META_KEY));
    for (const r of reqs) r.catch(() => {});
    await tx.done;
    this.segIds.clear();
    this.blocks.clear();
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

  /**
   * Tuned heads live in a database of their own (`<dbName>#heads`): the index's schema stays as it is, and
   * reset() (clear, re-embed) leaves them alone. The meta record in the main database points at one.
   */
  private async headsDb<T>(fn: (db: IDBPDatabase) => Promise<T>): Promise<T> {
    const factory = this.opts.indexedDB ?? globalThis.indexedDB;
    const db = await withFactory(factory, () =>
      openDB(`${this.dbName}#heads`, 1, { upgrade: (d) => void d.createObjectStore('heads', { keyPath: 'version' }) }),
    );
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
    this.segIds.clear();
    this.blocks.clear();
    this.where = null;
  }
}

/** Schema migrations, run inside the versionchange transaction. */
function upgrade(db: IDBPDatabase<M3DB>, oldVersion: number, tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>): Promise<void> | void {
  if (oldVersion < 1) db.createObjectStore('meta');
  if (oldVersion < 2) db.createObjectStore('segments', { keyPath: 'seq' });
  if (oldVersion < 3) db.createObjectStore('texts', { keyPath: ['seq', 'g'] });
  if (oldVersion === 0) return;
  // The migrations await requests of the versionchange transaction only, so it stays open throughout.
  return (async () => {
    if (oldVersion === 1) await migrateV1(db, tx);
    if (oldVersion === 2) await migrateV2(tx);
    if (oldVersion < 3) db.deleteObjectStore('docs');
    if (oldVersion < 5) await upgradeSegments(tx);
  })();
}

/**
 * IndexedDB < 5 (schema 2 or 3 → 4): each segment record's postings are re-coded (postings.ts) and the
 * record sealed with its checksum, once its old checksum (schema 3) and its structure check out: a damaged
 * record is neither converted nor sealed as good, so reading it later fails with an error that names it.
 */
async function upgradeSegments(tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>): Promise<void> {
  const segs = tx.objectStore('segments');
  const meta = await tx.objectStore('meta').get(META_KEY);
  let cursor = await segs.openCursor();
  while (cursor) {
    const old = cursor.value as unknown as LegacySegment;
    if (old.checksum === undefined || intact(old)) {
      const seg = compactPostings(old);
      if (!segmentProblem(seg, meta?.dims || undefined)) await cursor.update({ ...seg, checksum: segmentChecksum(seg) });
    }
    cursor = await cursor.continue();
  }
  if (meta) await tx.objectStore('meta').put({ ...meta, schemaVersion: SCHEMA_VERSION }, META_KEY);
}

/**
 * v2 → v3: per-document records in `docs` become one text block per segment. Written uncompressed
 * (CompressionStream is async, and awaiting it would let the versionchange transaction commit); a later
 * compaction rewrites them compressed. Rows whose document was deleted get null.
 */
async function migrateV2(tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>): Promise<void> {
  const segs = await tx.objectStore('segments').getAll();
  const docs = new Map((await tx.objectStore('docs').getAll()).map((d) => [d.id, d]));
  for (const seg of segs) {
    const entries: TextEntry[] = seg.ids.map((id, i) => {
      const d = docs.get(id);
      if (!d || d.key !== seg.keys[i]) return null;
      return d.chunks ? [d.text, d.chunks.spans] : [d.text];
    });
    for (let g = 0; g * TEXT_GROUP < entries.length; g++) {
      await tx.objectStore('texts').put({ seq: seg.seq, g, docs: entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP) });
    }
  }
}

/**
 * v1 → v2: v1 kept vectors inline in `docs`. Move those records to `legacy` (the index re-ingests them
 * as segments after open) and write a v2 meta that remembers the v1 model id and dims. The head hash and
 * dtype were not recorded in v1: they are left empty and adopted from the encoder on first open.
 */
async function migrateV1(db: IDBPDatabase<M3DB>, tx: IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>): Promise<void> {
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

/** A schema 3 record whose checksum still matches its content. */
function intact(seg: LegacySegment): boolean {
  try {
    return legacySegmentChecksum(seg) === seg.checksum;
  } catch {
    return false; // fields missing: not what schema 3 wrote
  }
}

async function deflateEntries(entries: TextEntry[]): Promise<Uint8Array> {
  const json = new TextEncoder().encode(JSON.stringify(entries));
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function inflateEntries(z: Uint8Array): Promise<TextEntry[]> {
  // Straight into the stream's writer and out of its reader: no Blob or Response around it (fewer hops
  // for what is a hit's text on the search path).
  const ds = new DecompressionStream('deflate-raw');
  const w = ds.writable.getWriter();
  w.write(z as Uint8Array<ArrayBuffer>).catch(() => {});
  w.close().catch(() => {});
  const r = ds.readable.getReader();
  const dec = new TextDecoder();
  let json = '';
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    json += dec.decode(value, { stream: true });
  }
  return JSON.parse(json + dec.decode()) as TextEntry[];
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
