import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { type IndexState, sortByKeys } from '../search/index-state.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { bm25TermIndex } from './bm25-postings.ts';
import { locateTerm } from './bm25-terms.ts';
import { M3StorageError } from './errors.ts';
import { IdbStore } from './idb-store.ts';
import { PostingChecks } from './posting-checks.ts';
import { segmentChecksum } from './segment-check.ts';
import { findSparseList } from './sparse-postings.ts';
import type { Bm25DictBlock, SegmentRecord } from './types.ts';

const DIMS = 16;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };
/** 40 documents in 4 segments of 10; document i's text holds a word only it has: `zq<i>x`. */
const docs = corpus(40, DIMS, 7).map((d, i) => ({ ...d, text: `${d.text} zq${i}x` }));

/** A fresh database holding `docs`, its raw segment records, and a way to put one back forged (checksum resealed). */
async function indexed(name: string) {
  const factory = new IDBFactory();
  const idx = await M3Index.open(name, { store: new IdbStore(name, { indexedDB: factory, persist: false }), model });
  await idx.add(docs, { batchSize: 10 });
  idx.close();
  const raw = async <T>(fn: (db: Awaited<ReturnType<typeof openDB>>) => Promise<T>): Promise<T> => {
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    try {
      const db = await openDB(`m3-search:${name}`);
      try {
        return await fn(db);
      } finally {
        db.close();
      }
    } finally {
      g.indexedDB = prev;
    }
  };
  const segments = () => raw((db) => db.getAll('segments') as Promise<SegmentRecord[]>);
  const forge = (seg: SegmentRecord) => raw((db) => db.put('segments', { ...seg, checksum: segmentChecksum(seg) }));
  return { factory, segments, forge, store: () => new IdbStore(name, { indexedDB: factory, persist: false }) };
}

/** The segment holding document `i`. */
const holding = (segs: SegmentRecord[], i: number) => segs.find((s) => s.ids.includes(`d${i}`))!;

/** Points the first posting of `term` (a df-1 list) at document 63 of the segment's 10: a valid checksum, a bad structure. */
function forgeBm25(seg: SegmentRecord, term: string): void {
  const b = seg.bm25 as Bm25DictBlock;
  const run = locateTerm(b, bm25TermIndex(b, term));
  expect(run.df1).toBe(true);
  b.postings[run.start] = 0x7f; // gap 63, tf 1: one byte, as the one it replaces
}

/** Points the first entry of `token`'s sparse list at row 127 of the segment's 10. */
function forgeSparse(seg: SegmentRecord, token: number): void {
  const at = { pos: 0, end: 0 };
  expect(findSparseList(seg.sparse!, token, at)).toBe(true);
  expect(seg.sparse!.postings[at.pos]).toBeLessThan(0x80);
  seg.sparse!.postings[at.pos] = 0x7f;
}

describe('posting-list checks deferred from the open', () => {
  it('a forged list (valid checksum) is refused at its first read with the error the open gave; every later read fails the same way', async () => {
    const db = await indexed('first-use');
    const seg = holding(await db.segments(), 17);
    forgeBm25(seg, 'zq17x');
    await db.forge(seg);

    // Read whole (an import or a compaction does): refused at once, as every open did before.
    const eager = db.store();
    const meta = (await eager.open())!;
    const message = new RegExp(`"m3-search:first-use", segment record ${seg.seq}: BM25 posting of term \\d+ names document 63 of 10.*index again`);
    await expect(eager.readSegments(meta.segments)).rejects.toThrow(message);
    eager.close();

    // Read for an open: the directories and the checksum pass, the lists wait for their first read.
    const store = db.store();
    await store.open();
    const checks = new PostingChecks();
    const segs = await store.readSegments(meta.segments, { deferChecks: checks });
    expect(checks.left).toBeGreaterThan(0);
    const other = holding(segs, 3).bm25 as Bm25DictBlock;
    expect(bm25TermIndex(other, 'zq3x')).toBeGreaterThanOrEqual(0); // a sound block reads
    const forged = holding(segs, 17).bm25 as Bm25DictBlock;
    let first: unknown;
    try {
      bm25TermIndex(forged, 'zq17x');
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(M3StorageError);
    expect((first as M3StorageError).code).toBe('CORRUPT');
    expect((first as Error).message).toMatch(message);
    expect(checks.failure).toBe(first);
    // Later reads fail the same way, in that block and in the sound ones.
    expect(() => bm25TermIndex(forged, 'zq17x')).toThrow(first as Error);
    expect(() => bm25TermIndex(other, 'zq4x')).toThrow(first as Error);
    expect(() => checks.step(Number.POSITIVE_INFINITY)).toThrow(first as Error);
  });

  it('idle slices check what no query read: a sound index finishes clean, a forged sparse list is found', async () => {
    const db = await indexed('idle');
    const meta = (await (async () => {
      const s = db.store();
      const m = await s.open();
      s.close();
      return m;
    })())!;
    const sound = db.store();
    await sound.open();
    const clean = new PostingChecks();
    await sound.readSegments(meta.segments, { deferChecks: clean });
    const groups = clean.left;
    expect(groups).toBeGreaterThan(8); // 4 segments × (sparse + BM25) blocks, several groups each
    expect(await clean.background(0)).toBeNull(); // 0 ms slices: one group per slice, so it takes many
    expect(clean.left).toBe(0);
    expect(clean.failure).toBeNull();
    sound.close();

    const seg = holding(await db.segments(), 25);
    const token = docs[25].embedding!.sparse!.ids[0];
    forgeSparse(seg, token);
    await db.forge(seg);
    const store = db.store();
    await store.open();
    const checks = new PostingChecks();
    await store.readSegments(meta.segments, { deferChecks: checks });
    const found = await checks.background(0);
    expect(found).toBeInstanceOf(M3StorageError);
    expect(found!.message).toMatch(new RegExp(`segment record ${seg.seq}: sparse entry \\d+ names row 127 of 10`));
    expect(checks.failure).toBe(found);
  });

  it('M3Index: a forged list fails searches (not the open), writes nothing, and clear() is the way out', async () => {
    const db = await indexed('m3');
    const seg = holding(await db.segments(), 12);
    forgeBm25(seg, 'zq12x');
    await db.forge(seg);
    const before = await db.segments();

    const index = await M3Index.open('m3', { store: db.store(), model });
    expect(index.count()).toBe(40);
    const state = (index as unknown as { state: IndexState }).state;
    const message = new RegExp(`segment record ${seg.seq}: BM25 posting of term \\d+ names document 63 of 10`);
    // The query reads the forged list (or the idle check got there first): either way the same error.
    await expect(index.search('zq12x', { mode: 'bm25' })).rejects.toThrow(message);
    expect(await state.checked).toBeInstanceOf(M3StorageError);
    // Every later use fails the same way, a dense query too, and a write is refused before it writes.
    await expect(index.search({ embedding: docs[0].embedding! }, { mode: 'dense' })).rejects.toThrow(message);
    await expect(index.add(corpus(1, DIMS, 99).map((d) => ({ ...d, id: 'new' })))).rejects.toThrow(message);
    expect(() => index.count()).toThrow(message);
    const after = await db.segments();
    expect(after.map((s) => [s.seq, s.checksum])).toEqual(before.map((s) => [s.seq, s.checksum]));
    expect(after.map((s) => Array.from((s.bm25 as Bm25DictBlock).postings))).toEqual(before.map((s) => Array.from((s.bm25 as Bm25DictBlock).postings)));

    await index.clear();
    expect(index.count()).toBe(0);
    expect(await index.search('zq12x', { mode: 'bm25' })).toEqual([]);
    index.close();
  });

  it('M3Index over a sound index: the idle checks finish clean and answers are those of an index read whole', async () => {
    const db = await indexed('sound');
    const index = await M3Index.open('sound', { store: db.store(), model });
    const state = (index as unknown as { state: IndexState }).state;
    const q = { text: 'zq21x', embedding: docs[21].embedding! };
    const hits = await index.search(q, { mode: 'hybrid', includeText: false });
    expect(hits[0].id).toBe('d21');
    expect(await state.checked).toBeNull();
    expect(state.checks!.left).toBe(0);
    // The same answers after a rebuild from segments read whole (checked at once).
    state.rebuild(sortByKeys(await db.segments()));
    expect(await index.search(q, { mode: 'hybrid', includeText: false })).toEqual(hits);
    index.close();
  });
});
