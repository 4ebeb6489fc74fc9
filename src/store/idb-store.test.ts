import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { M3QuotaError } from './errors.ts';
import { IdbStore } from './idb-store.ts';
import { SCHEMA_VERSION, type CommitBatch, type CommitOptions } from './types.ts';
import { tuningAccess } from '../search/tuning-access.ts';

const DIMS = 16;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };

describe('IdbStore', () => {
  it('migrates a v1 database (vectors inline in docs) into segments, keeping every document', async () => {
    const factory = new IDBFactory();
    const docs = corpus(30, DIMS, 4);
    // Write the v1 layout by hand: meta + one record per document with its vectors.
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    const v1 = await openDB('m3-search:legacy', 1, {
      upgrade(db) {
        db.createObjectStore('meta');
        db.createObjectStore('docs', { keyPath: 'id' });
      },
    });
    g.indexedDB = prev;
    await v1.put('meta', { modelId: 'precomputed', dims: DIMS, count: docs.length }, 'meta');
    for (const d of docs) await v1.put('docs', { id: d.id, text: d.text, metadata: d.metadata, dense: d.embedding!.dense, sparse: d.embedding!.sparse });
    v1.close();

    const progress: string[] = [];
    const idx = await M3Index.open('legacy', { store: new IdbStore('legacy', { indexedDB: factory }), model, onProgress: (p) => progress.push(p.phase) });
    expect(idx.count()).toBe(30);
    expect(progress).toContain('migrate');
    expect(await idx.get('d7')).toEqual({ id: 'd7', text: docs[7].text, metadata: docs[7].metadata });
    const q = { embedding: { dense: docs[7].embedding!.dense, tokens: 1, truncated: false } };
    expect((await idx.search(q, { mode: 'dense', k: 1 }))[0].id).toBe('d7');
    expect(idx.info.headHash).toBe('h'); // adopted: v1 did not record it
    idx.close();

    g.indexedDB = factory;
    const raw = await openDB('m3-search:legacy');
    g.indexedDB = prev;
    expect(raw.version).toBe(8);
    expect([...raw.objectStoreNames].sort()).toEqual(['legacy', 'meta', 'segments', 'texts']);
    expect(await raw.count('legacy')).toBe(0);
    expect(await raw.count('texts')).toBe(1); // one compressed text record: 30 docs fit one group
    const meta = await raw.get('meta', 'meta');
    expect(meta.schemaVersion).toBe(SCHEMA_VERSION);
    expect(meta.segments.length).toBe(1);
    raw.close();
  });

  it('migrates a v2 database (one record per document) to grouped text records, keeping texts, chunks and deletes', async () => {
    const factory = new IDBFactory();
    const docs = corpus(40, DIMS, 4);
    // Build a real index, then rewrite its database into the v2 layout (docs store, no texts store).
    const idx = await M3Index.open('v2', { store: new IdbStore('v2', { indexedDB: factory }), model });
    await idx.add(docs, { batchSize: 15 });
    await idx.remove(['d3']);
    const segsBefore = await tuningAccess(idx).store.readSegments();
    idx.close();
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    const live = docs.filter((d) => d.id !== 'd3');
    const keyOf = new Map<string, number>();
    for (const s of segsBefore) s.ids.forEach((id, i) => keyOf.set(id, s.keys[i]));
    await new Promise<void>((res, rej) => {
      const r = factory.deleteDatabase('m3-search:v2');
      r.onsuccess = () => res();
      r.onerror = () => rej(r.error);
    });
    const meta = await (async () => {
      const m = {
        schemaVersion: 2,
        modelId: 'precomputed',
        dims: DIMS,
        headHash: 'h',
        dtype: '',
        colbert: false,
        nextKey: 40,
        nextSeq: segsBefore.length,
        docCount: 39,
        tombstones: [keyOf.get('d3')!],
        segments: segsBefore.map((s) => s.seq),
        createdAt: 1,
        updatedAt: 2,
      };
      return m;
    })();
    const v2 = await openDB('m3-search:v2', 2, {
      upgrade(db) {
        db.createObjectStore('meta');
        db.createObjectStore('docs', { keyPath: 'id' });
        db.createObjectStore('segments', { keyPath: 'seq' });
      },
    });
    g.indexedDB = prev;
    await v2.put('meta', meta, 'meta');
    for (const s of segsBefore) await v2.put('segments', s);
    for (const d of live)
      await v2.put('docs', {
        id: d.id,
        key: keyOf.get(d.id)!,
        text: d.text,
        ...(d.metadata ? { metadata: d.metadata } : {}),
        ...(d.id === 'd5'
          ? {
              chunks: {
                spans: [
                  [0, 2],
                  [2, 4],
                ],
              },
            }
          : {}),
      });
    v2.close();

    const store = new IdbStore('v2', { indexedDB: factory });
    const again = await M3Index.open('v2', { store, model });
    expect(again.count()).toBe(39);
    for (const d of live) expect(await again.get(d.id)).toEqual({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) });
    expect(await again.get('d3')).toBeUndefined();
    expect((await store.getDoc('d5'))?.chunks).toEqual({
      spans: [
        [0, 2],
        [2, 4],
      ],
    });
    expect((await store.allDocs()).map((d) => d.id).sort()).toEqual(live.map((d) => d.id).sort());
    // Compaction rewrites the migrated (uncompressed) blocks as compressed ones, texts intact.
    await again.compact();
    expect(await again.get('d39')).toEqual({ id: 'd39', text: docs[39].text, ...(docs[39].metadata ? { metadata: docs[39].metadata } : {}) });
    again.close();
    g.indexedDB = factory;
    const raw = await openDB('m3-search:v2');
    g.indexedDB = prev;
    expect(raw.version).toBe(8);
    expect([...raw.objectStoreNames].sort()).toEqual(['meta', 'segments', 'texts']);
    const blocks = await raw.getAll('texts');
    expect(blocks.map((b) => [b.seq, b.g])).toEqual([
      [blocks[0].seq, 0],
      [blocks[0].seq, 1],
    ]); // 39 docs: groups of 32
    for (const b of blocks) expect(b.z).toBeInstanceOf(Uint8Array);
    raw.close();
  });

  it('a quota failure mid-ingest aborts that batch only and reports what was stored', async () => {
    const factory = new IDBFactory();
    const store = new IdbStore('q', { indexedDB: factory });
    let commits = 0;
    const commit = store.commit.bind(store);
    store.commit = async (b: CommitBatch, o?: CommitOptions) => {
      // The third batch's transaction fails the way a full disk makes IndexedDB fail (after its writes were
      // queued: ingest has gone on to prepare the fourth batch by then, which must not be written).
      if (b.segments?.length && ++commits === 3) {
        o?.onQueued?.();
        await new Promise((r) => setTimeout(r, 5));
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return commit(b, o);
    };
    const idx = await M3Index.open('q', { store, model });
    const err = await idx.add(corpus(50, DIMS, 2), { batchSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(M3QuotaError);
    expect(err.docsStored).toBe(20);
    expect(err.bytesStored).toBeGreaterThan(20 * DIMS);
    expect(err.message).toMatch(/20 documents/);
    expect(idx.count()).toBe(20);
    idx.close();
    const again = await M3Index.open('q', { store: new IdbStore('q', { indexedDB: factory }), model });
    expect(again.count()).toBe(20);
    expect(await again.get('d19')).toBeDefined();
    expect(await again.get('d20')).toBeUndefined();
  });

  it('pipelined ingest: an abort while the next batch is prepared keeps the batch whose transaction was in flight', async () => {
    const factory = new IDBFactory();
    const enc = new FakeEncoder({ dims: DIMS });
    const idx = await M3Index.open('pipe', { store: new IdbStore('pipe', { indexedDB: factory }), encoder: enc });
    const ac = new AbortController();
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` }));
    const writes: number[] = [];
    const p = idx.add(docs, {
      batchSize: 10,
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.phase === 'write') writes.push(pr.done);
        // Batch 3 is encoded once batch 2's writes are queued, typically before its transaction is done.
        if (pr.phase === 'encode' && pr.done === 30) ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(writes).toEqual([10, 20]);
    expect(idx.count()).toBe(20);
    idx.close();
    const again = await M3Index.open('pipe', { store: new IdbStore('pipe', { indexedDB: factory }), encoder: enc });
    expect(again.count()).toBe(20);
    expect(await again.get('d19')).toEqual({ id: 'd19', text: 'document number 19' });
    expect(await again.get('d20')).toBeUndefined();
    again.close();
  });

  it("ingest compresses a batch's texts before taking the write lock, and they read back (chunk spans too)", async () => {
    const factory = new IDBFactory();
    const store = new IdbStore('packed', { indexedDB: factory });
    // Per batch: its texts are packed, then the lock is taken, and the commit under it gets them packed.
    const events: string[] = [];
    const withWriteLock = store.withWriteLock.bind(store);
    store.withWriteLock = <T>(fn: () => Promise<T>) => withWriteLock(() => (events.push('lock'), fn()));
    const packTexts = store.packTexts.bind(store);
    store.packTexts = (docs) => (events.push('pack'), packTexts(docs));
    const commit = store.commit.bind(store);
    store.commit = (b: CommitBatch, o?: CommitOptions) => (events.push(b.packedTexts?.[0]?.parts.length ? 'packed commit' : 'commit'), commit(b, o));
    const enc = new FakeEncoder({ dims: DIMS });
    const chunk = {
      chunker: (t: string): [number, number][] =>
        t.length > 40
          ? [
              [0, 30],
              [30, t.length],
            ]
          : [[0, t.length]],
    };
    const idx = await M3Index.open('packed', { store, encoder: enc, chunk });
    const long = 'a long document that the chunker splits into two passages';
    const docs = [...Array.from({ length: 70 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` })), { id: 'long', text: long }];
    await idx.add(docs, { batchSize: 36 });
    expect(events.filter((e) => e === 'pack')).toHaveLength(2);
    for (let b = 0, at = -1; b < 2; b++) {
      const pack = events.indexOf('pack', at + 1);
      const lock = events.indexOf('lock', at + 1);
      expect(pack).toBeGreaterThan(-1);
      expect(pack).toBeLessThan(lock);
      expect(events[lock + 1]).toBe('packed commit');
      at = lock;
    }
    idx.close();
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    const raw = await openDB('m3-search:packed');
    g.indexedDB = prev;
    const blocks = await raw.getAll('texts');
    raw.close();
    expect(blocks.map((b) => [b.seq, b.g])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    // Each group is stored as its own bytes, not as a view of a larger buffer (which IndexedDB would store whole).
    for (const b of blocks) expect(b.z.byteLength).toBe(b.z.buffer.byteLength);
    const reader = new IdbStore('packed', { indexedDB: factory });
    await reader.open();
    expect(await reader.getDoc('long')).toEqual({
      id: 'long',
      key: 70,
      text: long,
      chunks: {
        spans: [
          [0, 30],
          [30, long.length],
        ],
      },
    });
    reader.close();
    const again = await M3Index.open('packed', { store: new IdbStore('packed', { indexedDB: factory }), encoder: enc, chunk });
    expect(await again.get('d0')).toEqual({ id: 'd0', text: 'document number 0' });
    expect(await again.get('d35')).toEqual({ id: 'd35', text: 'document number 35' }); // second group of batch 1
    expect(await again.get('d69')).toEqual({ id: 'd69', text: 'document number 69' });
    expect((await again.get('long'))?.text).toBe(long);
    const hits = await again.search('chunker splits', { mode: 'bm25', k: 1 });
    expect(hits[0].id).toBe('long');
    again.close();
  });

  it("texts packed for other documents than the segment's are refused and nothing is written", async () => {
    const factory = new IDBFactory();
    const store = new IdbStore('mismatch', { indexedDB: factory });
    await store.open();
    const meta = rawMeta(4, 1);
    const seg = rawSegment(0, 'a', null);
    const packedTexts = [await store.packTexts([{ id: 'b', text: 'not a' }])];
    await expect(store.commit({ meta, segments: [seg], putDocs: [{ id: 'a', key: 0, text: 'a' }], packedTexts })).rejects.toThrow(/packed texts do not match/);
    expect(await store.readMeta()).toBeNull();
    expect(await store.readSegments()).toEqual([]);
    store.close();
  });

  it('a write that fails inside a transaction rolls back everything queued before it', async () => {
    const factory = new IDBFactory();
    const store = new IdbStore('q2', { indexedDB: factory });
    await store.open();
    const meta = rawMeta(2, 2);
    // A value that can't be cloned fails the put after another write was queued: the whole transaction rolls back.
    const bad = rawSegment(1, 'b', { f: () => 1 });
    await expect(
      store.commit({
        meta,
        segments: [rawSegment(0, 'a', null), bad],
        putDocs: [
          { id: 'a', key: 0, text: 'a' },
          { id: 'b', key: 1, text: 'x' },
        ],
      }),
    ).rejects.toThrow();
    expect(await store.readMeta()).toBeNull();
    expect(await store.readSegments()).toEqual([]);
    expect(await store.getDoc('a')).toBeUndefined();
    store.close();
  });

  it('two tabs: a write in one shows up in the other, and keys never clash', async () => {
    const factory = new IDBFactory();
    const enc = new FakeEncoder({ dims: DIMS });
    const a = await M3Index.open('tabs', { store: new IdbStore('tabs', { indexedDB: factory }), encoder: enc });
    const b = await M3Index.open('tabs', { store: new IdbStore('tabs', { indexedDB: factory }), encoder: enc });
    await a.add([{ id: 'from-a', text: 'written by tab a' }]);
    await b.refresh(); // BroadcastChannel also triggers this; refresh makes the test deterministic
    expect(b.count()).toBe(1);
    expect((await b.search('tab', { mode: 'bm25' }))[0].id).toBe('from-a');
    // b writes without having refreshed after a's second write: it syncs under the lock first.
    await a.add([{ id: 'a2', text: 'second from a' }]);
    await b.add([{ id: 'from-b', text: 'written by tab b' }]);
    await a.refresh();
    expect(a.count()).toBe(3);
    expect(b.count()).toBe(3);
    await expect(b.add([{ id: 'a2', text: 'dup' }])).rejects.toThrow(/already/);
    await b.remove(['from-a']);
    await a.refresh();
    expect(a.count()).toBe(2);
    a.close();
    b.close();
    const c = await M3Index.open('tabs', { store: new IdbStore('tabs', { indexedDB: factory }), encoder: enc });
    expect(c.count()).toBe(2);
    expect((await c.search('second', { mode: 'bm25' }))[0].id).toBe('a2');
    c.close();
  });

  it('two tabs: the other tab picks up a commit by itself (BroadcastChannel), no refresh() call', async () => {
    const factory = new IDBFactory();
    const a = await M3Index.open('bc', { store: new IdbStore('bc', { indexedDB: factory }), model });
    const b = await M3Index.open('bc', { store: new IdbStore('bc', { indexedDB: factory }), model });
    await a.add(corpus(5, DIMS, 8));
    for (let i = 0; i < 100 && b.count() < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.count()).toBe(5);
    const q = { embedding: { dense: corpus(5, DIMS, 8)[3].embedding!.dense, tokens: 1, truncated: false } };
    expect((await b.search(q, { mode: 'dense', k: 1 }))[0].id).toBe('d3');
    a.close();
    b.close();
  });

  it('a versionchange from another connection closes this instance with a reason', async () => {
    const factory = new IDBFactory();
    const idx = await M3Index.open('vc', { store: new IdbStore('vc', { indexedDB: factory }), model });
    await idx.add(corpus(3, DIMS, 1));
    await new Promise<void>((resolve, reject) => {
      const req = factory.deleteDatabase('m3-search:vc');
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
    });
    expect(idx.closedReason).toMatch(/another tab/);
    expect(() => idx.count()).toThrow(/another tab/);
  });

  it('migrates a v3 database (schema 2, no checksums) to v5: records sealed; a damaged record is then refused by name', async () => {
    const factory = new IDBFactory();
    const docs = corpus(30, DIMS, 5);
    const idx = await M3Index.open('src', { store: new IdbStore('src', { indexedDB: factory }), model });
    await idx.add(docs, { batchSize: 10 });
    idx.close();
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    try {
      const src = await openDB('m3-search:src');
      const segs = (await src.getAll('segments')).map(({ checksum: _c, ...s }) => s);
      const texts = await src.getAll('texts');
      const meta = { ...(await src.get('meta', 'meta')), schemaVersion: 2 };
      src.close();
      const v3 = await openDB('m3-search:old', 3, {
        upgrade(db) {
          db.createObjectStore('meta');
          db.createObjectStore('segments', { keyPath: 'seq' });
          db.createObjectStore('texts', { keyPath: ['seq', 'g'] });
        },
      });
      await v3.put('meta', meta, 'meta');
      for (const s of segs) await v3.put('segments', s);
      for (const t of texts) await v3.put('texts', t);
      v3.close();
      g.indexedDB = prev;

      const again = await M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory }), model });
      expect(again.count()).toBe(30);
      expect(await again.get('d12')).toEqual({ id: 'd12', text: docs[12].text, ...(docs[12].metadata ? { metadata: docs[12].metadata } : {}) });
      again.close();
      g.indexedDB = factory;
      const raw = await openDB('m3-search:old');
      expect(raw.version).toBe(8);
      expect((await raw.get('meta', 'meta')).schemaVersion).toBe(SCHEMA_VERSION);
      const sealed = await raw.getAll('segments');
      expect(sealed.every((s) => typeof s.checksum === 'number')).toBe(true);
      // One flipped dense code: wrong scores before; now the open refuses, naming the record.
      const victim = sealed[1];
      victim.dense.codes[5] ^= 0x40;
      await raw.put('segments', victim);
      raw.close();
      g.indexedDB = prev;
      await expect(M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory }), model })).rejects.toThrow(
        new RegExp(`"m3-search:old", segment record ${victim.seq}: checksum mismatch.*index again`),
      );
      // Duplicate keys (structure) are named too, even with a matching checksum.
      g.indexedDB = factory;
      const raw2 = await openDB('m3-search:old');
      victim.dense.codes[5] ^= 0x40;
      victim.keys[1] = victim.keys[0];
      const { segmentChecksum } = await import('./segment-check.ts');
      victim.checksum = segmentChecksum(victim);
      await raw2.put('segments', victim);
      raw2.close();
      g.indexedDB = prev;
      await expect(M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory }), model })).rejects.toThrow(/key \d+ appears twice/);
    } finally {
      g.indexedDB = prev;
    }
  });
});

/** A meta record as commit() takes it: `docs` documents in segments 0..docs−1, one each. */
function rawMeta(schemaVersion: number, docs: number) {
  return {
    schemaVersion,
    modelId: 'm',
    dims: DIMS,
    headHash: 'h',
    dtype: '',
    colbert: false,
    nextKey: docs,
    nextSeq: docs,
    docCount: docs,
    tombstones: [],
    segments: Array.from({ length: docs }, (_, i) => i),
    createdAt: 0,
    updatedAt: 0,
  };
}

/** A one-document segment with no vectors and no BM25 block, its key equal to its seq. */
function rawSegment(seq: number, id: string, metadata: Record<string, unknown> | null) {
  return {
    seq,
    keys: Uint32Array.of(seq),
    ids: [id],
    metadata: [metadata],
    rowDoc: Uint32Array.of(0),
    rowSpans: new Uint32Array(0),
    dense: null,
    sparse: null,
    colbert: null,
    bm25: null,
  };
}
