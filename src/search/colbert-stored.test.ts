/**
 * Bit-coded ColBERT through every way an index is stored and moved: IndexedDB (checksummed records), FileStore
 * folders, portable exports and static packages all give back the same blocks and the same scores; the
 * width is an index setting (int8 indexes stay int8, a new width applies from then on, compaction re-codes).
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { writeStaticPackage } from '../static/build.ts';
import { loadStaticIndex } from '../static/load-index.ts';
import { FileStore } from '../store/file-store.ts';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { ColbertBits, Store } from '../store/types.ts';
import { M3Index } from './m3-index.ts';
import { exportStore, parsePortable, writePortable } from './portable.ts';

const tmp = mkdtempSync(join(tmpdir(), 'm3-colbert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const enc = new FakeEncoder({ dims: 32 });
const WORDS = ['flow', 'shock', 'wing', 'heat', 'plate', 'vortex', 'pressure', 'laminar', 'cylinder', 'nozzle'];
const docs = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `${WORDS[i % 10]} ${WORDS[(i * 3) % 10]} ${WORDS[(i * 7) % 10]} number ${i}` }));
const QUERIES = ['shock wing', 'heat plate flow', 'vortex cylinder'];

/** ColBERT-only scores of every query (ids and scores), and the codecs of the stored blocks. */
async function answers(idx: M3Index): Promise<[string, number][][]> {
  const out: [string, number][][] = [];
  for (const q of QUERIES) out.push((await idx.search(q, { k: 10, mode: 'colbert', includeText: false })).map((h) => [h.id, h.score]));
  return out;
}

async function codecs(store: Store): Promise<string[]> {
  return (await store.readSegments()).map((s) => (s.colbert?.codec === 'bits' ? `bits${s.colbert.bits}` : 'int8'));
}

async function filled(store: Store, colbertBits?: ColbertBits): Promise<M3Index> {
  const idx = await M3Index.open('c', { encoder: enc, store, colbert: true, ...(colbertBits ? { colbertBits } : {}) });
  await idx.add(docs, { batchSize: 15 });
  return idx;
}

describe('bit-coded ColBERT, stored', () => {
  it('IndexedDB, FileStore, a portable export and a static package give the same scores as the index that wrote them', async () => {
    const ref = await filled(new MemoryStore());
    expect(ref.info.colbertBits).toBe(1); // the default width
    const want = await answers(ref);
    expect(want[0].length).toBe(10);

    const factory = new IDBFactory();
    const idb = await filled(new IdbStore('c', { indexedDB: factory }));
    idb.close();
    const idbStore = new IdbStore('c', { indexedDB: factory });
    const idb2 = await M3Index.open('c', { encoder: enc, store: idbStore });
    expect(await codecs(idbStore)).toEqual(['bits1', 'bits1', 'bits1']);
    expect(await answers(idb2)).toEqual(want);
    idb2.close();

    const dir = join(tmp, 'folder');
    (await filled(new FileStore(dir))).close();
    const files = await M3Index.open('c', { encoder: enc, store: new FileStore(dir) });
    expect(await answers(files)).toEqual(want);

    const copy = new MemoryStore();
    await writePortable(copy, await parsePortable(await exportStore(new FileStore(dir))));
    files.close();
    expect(await codecs(copy)).toEqual(['bits1', 'bits1', 'bits1']);
    expect(await answers(await M3Index.open('c', { encoder: enc, store: copy }))).toEqual(want);

    const pkg = join(tmp, 'pkg');
    const src = new MemoryStore();
    const srcIdx = await filled(src);
    await writeStaticPackage(src, pkg);
    srcIdx.close();
    const BASE = 'https://site.example/pkg/';
    const fetchPkg = (async (input: RequestInfo | URL) =>
      new Response(new Uint8Array(readFileSync(join(pkg, new URL(String(input)).pathname.slice('/pkg/'.length)))))) as typeof fetch;
    const st = await loadStaticIndex(BASE, { name: 'static-c', encoder: enc, indexedDB: new IDBFactory(), fetch: fetchPkg });
    expect(st.info.colbertBits).toBe(1);
    expect(await answers(st)).toEqual(want);
    st.close();
  });

  it('int8 stays int8 when reopened; another width applies from then on and compaction re-codes the rest', async () => {
    const store = new MemoryStore();
    const idx = await filled(store, 8);
    expect(await codecs(store)).toEqual(['int8', 'int8', 'int8']);
    const int8Answers = await answers(idx);
    idx.close();
    const again = await M3Index.open('c', { encoder: enc, store });
    expect(again.info.colbertBits).toBe(8);
    await again.add([{ id: 'x1', text: 'shock wing nozzle' }]);
    expect(await codecs(store)).toEqual(['int8', 'int8', 'int8', 'int8']);
    await again.remove(['x1']);
    expect(await answers(again)).toEqual(int8Answers);
    again.close();

    const four = await M3Index.open('c', { encoder: enc, store, colbertBits: 4 });
    expect(four.info.colbertBits).toBe(4);
    await four.add([{ id: 'x2', text: 'heat plate' }]);
    expect((await codecs(store)).at(-1)).toBe('bits4');
    await four.compact();
    expect(await codecs(store)).toEqual(['bits4']);
    // 4 bits track int8 closely: every document both lists hold scores within 3% of the best score.
    const got = await answers(four);
    let compared = 0;
    for (let q = 0; q < QUERIES.length; q++) {
      const int8 = new Map(int8Answers[q]);
      for (const [id, score] of got[q]) {
        if (!int8.has(id)) continue;
        expect(Math.abs(score - int8.get(id)!)).toBeLessThan(0.03 * int8Answers[q][0][1]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(15);
    four.close();
    await expect(M3Index.open('c', { encoder: enc, store, colbertBits: 3 as ColbertBits })).rejects.toThrow(/colbertBits must be 1, 2, 4 or 8/);
  });
});
