/**
 * Tiered segment merging (index-writer.ts merge, compaction-plan.ts planMerges) through the public API: many
 * small adds end in few segments with the same answers, upserts and removals around merges lose nothing, another
 * tab swaps a merge in without a rebuild, and a quota error leaves the added documents unmerged but present.
 */
import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, vi } from 'vitest';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/types.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { M3Index } from './m3-index.ts';
import type { IndexDoc, SearchMode } from './types.ts';

const DIMS = 16;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };

/** Ids and scores of a few queries per mode (the docs' own vectors and words as queries). */
async function answers(index: M3Index, docs: IndexDoc[], modes: SearchMode[]): Promise<string[]> {
  const out: string[] = [];
  for (const mode of modes)
    for (const d of [docs[3], docs[40], docs[77]]) {
      const hits = await index.search({ text: d.text.split(' ').slice(0, 3).join(' '), embedding: d.embedding }, { k: 8, mode, includeText: false });
      out.push(`${mode}: ${hits.map((h) => `${h.id}:${h.score}`).join(' ')}`);
    }
  return out;
}

const segmentCount = async (store: Store) => (await store.readMeta())!.segments.length;

describe('tiered segment merging', () => {
  it('single-document adds end in a few segments with the same dense and BM25 answers (ids and scores); sparse scores within half a weight step', async () => {
    const docs = corpus(120, DIMS, 3);
    const merged = new MemoryStore();
    const plain = new MemoryStore();
    const a = await M3Index.open('a', { store: merged, model });
    const b = await M3Index.open('b', { store: plain, model, merge: false });
    for (const d of docs) {
      await a.add([d]);
      await b.add([d]);
    }
    expect(await segmentCount(plain)).toBe(120);
    // 120 = 100 + 10 + 10: two tier-1 segments of 10 make 20, still tier 1, so they wait for more.
    expect((await merged.readSegments()).map((s) => s.keys.length)).toEqual([100, 10, 10]);
    expect(await answers(a, docs, ['dense', 'bm25'])).toEqual(await answers(b, docs, ['dense', 'bm25']));
    // Sparse weights are re-quantised to the merged segment's one scale (as compaction does): scores move by
    // less than half a quantisation step per weight, so near-ties may swap, nothing more.
    const parse = (line: string) =>
      new Map(
        line
          .split(': ')[1]
          .split(' ')
          .map((h) => [h.split(':')[0], Number(h.split(':')[1])]),
      );
    const [got, want] = [await answers(a, docs, ['sparse', 'hybrid']), await answers(b, docs, ['sparse', 'hybrid'])];
    got.forEach((line, q) => {
      const [g, w] = [parse(line), parse(want[q])];
      expect([...g.keys()][0]).toBe([...w.keys()][0]);
      const shared = [...g.keys()].filter((id) => w.has(id));
      expect(shared.length).toBeGreaterThanOrEqual(7);
      for (const id of shared) expect(Math.abs(g.get(id)! - w.get(id)!)).toBeLessThan(2e-3);
    });
    // A reopen reads the merged segments: the same answers as the segments swapped in memory.
    const before = await answers(a, docs, ['dense', 'sparse', 'bm25', 'hybrid']);
    a.close();
    const again = await M3Index.open('a', { store: merged, model });
    expect(await answers(again, docs, ['dense', 'sparse', 'bm25', 'hybrid'])).toEqual(before);
    // merge: false until asked: index.merge() with a policy for this call.
    expect(await b.merge({ fanIn: 10, maxDocs: 1000 })).toBe(3);
    expect(await segmentCount(plain)).toBe(3);
    expect(await b.merge()).toBe(0); // the index's own policy is false
    again.close();
    b.close();
  });

  it('keeps every text, tombstone and upsert through merges in IndexedDB, and another tab swaps them in without a rebuild', async () => {
    const factory = new IDBFactory();
    const docs = corpus(100, DIMS, 5);
    const a = await M3Index.open('t', { store: new IdbStore('t', { indexedDB: factory, persist: false }), model, compactThreshold: 0.9 });
    await a.add(docs.slice(0, 50), { batchSize: 5 }); // ten segments of 5: pairs reach tier 1, five of 10
    const bStore = new IdbStore('t', { indexedDB: factory, persist: false });
    const b = await M3Index.open('t', { store: bStore, model, compactThreshold: 0.9 });
    await a.remove(['d1', 'd22']);
    await a.upsert([{ ...docs[7], text: 'seven replaced', metadata: { v: 2 } }]);
    await a.add(docs.slice(50, 95), { batchSize: 5 }); // the upsert's segment of 1 and nine of 5 merge too
    // In key order: 5 × 10, then 1 + 5 + 5, three of 10 and the last batch of 5 (ten batches of 5 in one add).
    const sizes = (await bStore.readSegments((await bStore.readMeta())!.segments)).sort((x, y) => x.keys[0] - y.keys[0]).map((s) => s.keys.length);
    expect(sizes).toEqual([10, 10, 10, 10, 10, 11, 10, 10, 10, 5]);
    const loadAll = vi.spyOn((b as unknown as { state: { loadAll: () => Promise<void> } }).state, 'loadAll');
    await b.refresh();
    expect(loadAll).not.toHaveBeenCalled();
    for (const index of [a, b]) {
      expect(index.count()).toBe(93);
      expect(await index.get('d1')).toBeUndefined();
      expect((await index.get('d7'))?.text).toBe('seven replaced');
      for (const i of [0, 9, 49, 50, 94]) expect((await index.get(`d${i}`))?.text).toBe(docs[i].text);
      const hits = await index.search({ text: docs[22].text, embedding: docs[22].embedding }, { k: 100, mode: 'hybrid' });
      expect(hits.some((h) => h.id === 'd1' || h.id === 'd22')).toBe(false);
    }
    expect(await answers(b, docs, ['dense', 'sparse', 'bm25', 'hybrid'])).toEqual(await answers(a, docs, ['dense', 'sparse', 'bm25', 'hybrid']));
    a.close();
    b.close();
  });

  it('an id upserted inside a merged run: its dead rows and tombstones go, and the index reopens', async () => {
    const factory = new IDBFactory();
    const docs = corpus(6, DIMS, 9);
    const open = () => M3Index.open('u', { store: new IdbStore('u', { indexedDB: factory, persist: false }), model });
    const a = await open();
    for (const d of docs.slice(0, 4)) await a.add([d]);
    await a.upsert(docs.map((d) => ({ ...d, text: `${d.text} again` }))); // 1 + 1 + 1 + 1 + 6 merge: d0…d3 twice
    a.close();
    const b = await open(); // reads (and checks) every segment: no id twice in one
    expect(b.count()).toBe(6);
    expect(b.info.segments).toBe(1);
    for (const d of docs) expect((await b.get(d.id))?.text).toBe(`${d.text} again`);
    const hits = await b.search({ embedding: docs[2].embedding }, { k: 10, mode: 'dense' });
    expect(hits.map((h) => h.id).sort()).toEqual(docs.map((d) => d.id).sort());
    b.close();
  });

  it('a quota error in a merge leaves the added documents present and the segments unmerged', async () => {
    class FullStore extends MemoryStore {
      override async commit(...args: Parameters<MemoryStore['commit']>): Promise<void> {
        if (args[0].deleteSegments?.length) throw Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
        return super.commit(...args);
      }
    }
    const store = new FullStore();
    const index = await M3Index.open('q', { store, model });
    const docs = corpus(30, DIMS, 7);
    expect(await index.add(docs, { batchSize: 3 })).toEqual({ added: 30 });
    expect(await segmentCount(store)).toBe(10);
    expect(index.count()).toBe(30);
    expect((await index.search({ embedding: docs[12].embedding }, { k: 1, mode: 'dense' }))[0].id).toBe('d12');
    index.close();
  });

  it('refuses a bad policy when the index opens', async () => {
    await expect(M3Index.open('p', { store: new MemoryStore(), model, merge: { fanIn: 1 } })).rejects.toThrow(/fanIn/);
    await expect(M3Index.open('p', { store: new MemoryStore(), model, merge: { maxDocs: 0.5 } })).rejects.toThrow(/maxDocs/);
  });
});
