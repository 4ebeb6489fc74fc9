/**
 * OpenOptions.denseRefine end to end: residuals are written, checked, checksummed, kept by FileStore
 * folders, IndexedDB and compaction, and the dense scores they give are those of the stored rows
 * read back at ~12 bits; the choice is stored with the index and applies from then on.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { corpus } from '../../test/support/test-corpus.ts';
import { FileStore } from '../store/file-store.ts';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { segmentChecksum, segmentProblem } from '../store/segment-check.ts';
import type { Store } from '../store/types.ts';
import { M3Index } from './m3-index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'm3-refine-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const DIMS = 48;
const MODEL = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };
const docs = corpus(300, DIMS, 4);
const queries = corpus(12, DIMS, 5).map((d) => d.embedding!);
const exact = (q: Float32Array, id: string) => {
  const d = docs.find((x) => x.id === id)!.embedding!.dense!;
  let s = 0;
  for (let i = 0; i < DIMS; i++) s += q[i] * d[i];
  return s;
};

async function answers(idx: M3Index): Promise<[string, number][][]> {
  const out: [string, number][][] = [];
  for (const e of queries) out.push((await idx.search({ embedding: e }, { k: 10, mode: 'dense', includeText: false })).map((h) => [h.id, h.score]));
  return out;
}

async function filled(store: Store, denseRefine = true, merge = false): Promise<M3Index> {
  const idx = await M3Index.open('r', { store, model: MODEL, denseRefine, ...(merge ? {} : { merge: false as const }) });
  await idx.add(docs, { batchSize: 70 });
  return idx;
}

describe('dense refinement (denseRefine)', () => {
  it('stores a residual per row and scores hits within 1e-3 of the exact dot product (int8 alone: coarser)', async () => {
    const store = new MemoryStore();
    const idx = await filled(store);
    expect(idx.info.denseRefine).toBe(true);
    const segs = await store.readSegments();
    expect(segs.length).toBe(5);
    for (const s of segs) {
      expect(s.dense!.residual!.length).toBe(s.rowDoc.length * (DIMS / 2));
      expect(segmentProblem(s, DIMS)).toBeNull();
    }
    const plainStore = new MemoryStore();
    const plain = await filled(plainStore, false);
    expect(plain.info.denseRefine).toBe(false);
    expect((await plainStore.readSegments())[0].dense!.residual).toBeUndefined();
    let worst = 0;
    let worstPlain = 0;
    const got = await answers(idx);
    const gotPlain = await answers(plain);
    got.forEach((hits, j) => hits.forEach(([id, s]) => (worst = Math.max(worst, Math.abs(s - exact(queries[j].dense!, id))))));
    gotPlain.forEach((hits, j) => hits.forEach(([id, s]) => (worstPlain = Math.max(worstPlain, Math.abs(s - exact(queries[j].dense!, id))))));
    expect(worst).toBeLessThan(1e-3);
    expect(worstPlain).toBeGreaterThan(2 * worst);
  });

  it('a residual of the wrong length is refused, and a changed residual byte changes the checksum', async () => {
    const store = new MemoryStore();
    await filled(store);
    const [s] = await store.readSegments();
    const sum = segmentChecksum(s);
    const flipped = { ...s, dense: { ...s.dense!, residual: s.dense!.residual!.slice() } };
    flipped.dense.residual[7] ^= 1;
    expect(segmentChecksum(flipped)).not.toBe(sum);
    expect(segmentProblem({ ...s, dense: { ...s.dense!, residual: s.dense!.residual!.subarray(1) } }, DIMS)).toMatch(/residual bytes/);
  });

  it('FileStore folders, IndexedDB and compaction keep the residuals and the answers', async () => {
    const want = await answers(await filled(new MemoryStore()));
    const dir = join(tmp, 'folder');
    (await filled(new FileStore(dir))).close();
    const fromFolder = await M3Index.open('r', { store: new FileStore(dir), model: MODEL });
    expect(fromFolder.info.denseRefine).toBe(true); // stored with the index
    expect(await answers(fromFolder)).toEqual(want);
    fromFolder.close();

    const factory = new IDBFactory();
    (await filled(new IdbStore('r', { indexedDB: factory }), true, true)).close(); // merged after the adds
    const idbStore = new IdbStore('r', { indexedDB: factory });
    const fromIdb = await M3Index.open('r', { store: idbStore, model: MODEL });
    const merged = await idbStore.readSegments();
    expect(merged.length).toBeLessThan(5); // the merge policy ran
    for (const s of merged) expect(s.dense!.residual!.length).toBe(s.rowDoc.length * (DIMS / 2));
    expect(await answers(fromIdb)).toEqual(want);
    await fromIdb.compact();
    expect(fromIdb.info.segments).toBeLessThan(5);
    expect(await answers(fromIdb)).toEqual(want);
    fromIdb.close();
  });

  it('turning it on applies from then on: older rows read as int8, and the option is type-checked', async () => {
    const store = new MemoryStore();
    const idx = await M3Index.open('r', { store, model: MODEL });
    await idx.add(docs.slice(0, 100));
    idx.close();
    const on = await M3Index.open('r', { store, model: MODEL, denseRefine: true });
    await on.add(docs.slice(100, 200));
    const segs = await store.readSegments();
    expect(segs.map((s) => s.dense!.residual !== undefined)).toEqual([false, true]);
    const [[id, score]] = (await on.search({ embedding: queries[0] }, { k: 1, mode: 'dense', includeText: false })).map((h) => [h.id, h.score] as const);
    expect(Math.abs(score - exact(queries[0].dense!, id))).toBeLessThan(0.02);
    on.close();
    await expect(M3Index.open('r', { store, model: MODEL, denseRefine: 'yes' as unknown as boolean })).rejects.toThrow(/denseRefine must be true or false/);
  });
});
