import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../store/file-store.ts';
import { IdbStore } from '../store/idb-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/types.ts';
import { M3IndexMismatchError } from '../store/errors.ts';
import { M3Error, M3InputError } from '../errors.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from './m3-index.ts';
import { QuerySyntaxError } from '../query/parse.ts';
import { corpus, gaussianUnit, randomSparse, refBm25, refColbert, refDense, refSparse } from '../../test/support/test-corpus.ts';
import { mulberry32 as rng } from '../util/random.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store kind plus how to reopen the *same* storage. */
function storeKinds(): [string, () => () => Store][] {
  return [
    [
      'memory',
      () => {
        const s = new MemoryStore();
        return () => s;
      },
    ],
    [
      'idb',
      () => {
        const f = new IDBFactory();
        const name = `t${Math.random()}`;
        return () => new IdbStore(name, { indexedDB: f });
      },
    ],
    [
      'file',
      () => {
        const d = mkdtempSync(join(tmpdir(), 'm3idx-'));
        dirs.push(d);
        return () => new FileStore(d);
      },
    ],
  ];
}

const DIMS = 32;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };

describe.each(storeKinds())('M3Index on %s store', (_kind, makeStore) => {
  it('add / get / count / upsert / remove / clear, and everything survives a reopen', async () => {
    const reopen = makeStore();
    const enc = new FakeEncoder({ dims: DIMS });
    let idx = await M3Index.open('x', { encoder: enc, store: reopen() });
    await idx.add([
      { id: 'a', text: 'red apples and green pears', metadata: { n: 1 } },
      { id: 'b', text: 'a <b>bold</b> claim about pears' },
      { id: 'c', text: 'nothing in common' },
    ]);
    expect(idx.count()).toBe(3);
    expect(await idx.get('b')).toEqual({ id: 'b', text: 'a <b>bold</b> claim about pears' });
    await expect(idx.add([{ id: 'a', text: 'again' }])).rejects.toThrow(/already in the index/);
    await idx.upsert([{ id: 'a', text: 'apples only', metadata: { n: 2 } }]);
    expect(idx.count()).toBe(3);
    expect(await idx.get('a')).toEqual({ id: 'a', text: 'apples only', metadata: { n: 2 } });
    expect(await idx.remove(['c', 'nope'])).toBe(1);
    expect(await idx.get('c')).toBeUndefined();
    expect(idx.count()).toBe(2);
    idx.close();

    idx = await M3Index.open('x', { encoder: enc, store: reopen() });
    expect(idx.count()).toBe(2);
    expect(await idx.get('a')).toEqual({ id: 'a', text: 'apples only', metadata: { n: 2 } });
    expect(await idx.get('c')).toBeUndefined();
    const hits = await idx.search('pears', { mode: 'bm25' });
    expect(hits.map((h) => h.id)).toEqual(['b']);
    expect(hits[0].text).toBe('a <b>bold</b> claim about pears'); // HTML is data
    // The replaced version of "a" must not come back through any signal.
    for (const mode of ['dense', 'sparse', 'hybrid'] as const) {
      const ids = (await idx.search('red apples green pears', { mode, k: 5 })).map((h) => h.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).not.toContain('c');
    }
    await idx.clear();
    expect(idx.count()).toBe(0);
    expect(await idx.search('pears')).toEqual([]);
    idx.close();
    idx = await M3Index.open('x', { encoder: enc, store: reopen() });
    expect(idx.count()).toBe(0);
    await idx.add([{ id: 'a', text: 'fresh start' }]);
    expect((await idx.search('fresh', { mode: 'bm25' }))[0].id).toBe('a');
    idx.close();
  });

  it('scores match float64 brute force: dense (int8), sparse (uint8), colbert, and fusion formulas', async () => {
    const docs = corpus(300, DIMS, 7, { colbert: true });
    const idx = await M3Index.open('s', { store: makeStore()(), model, colbert: true, colbertBits: 8 });
    await idx.add(docs, { batchSize: 128 }); // several segments
    const r = rng(99);
    const byId = new Map(docs.map((d) => [d.id, d]));
    for (let qn = 0; qn < 5; qn++) {
      const target = docs[Math.floor(r() * docs.length)].embedding!;
      const dense = gaussianUnit(r, DIMS).map((x, i) => 0.6 * target.dense![i] + 0.4 * x);
      const q = { dense, sparse: randomSparse(r, 8), colbert: target.colbert!.slice(0, 2 * DIMS), tokens: 4, truncated: false };
      const emb = { embedding: q };

      const d = await idx.search(emb, { mode: 'dense', k: 10, includeText: false });
      const exact = docs.map((x) => ({ id: x.id, s: refDense(dense, x.embedding!.dense!) })).sort((a, b) => b.s - a.s);
      for (const h of d) expect(h.score).toBeCloseTo(refDense(dense, byId.get(h.id)!.embedding!.dense!), 2);
      expect(d[0].id).toBe(exact[0].id);
      expect(d.map((h) => h.id).filter((id) => exact.slice(0, 10).some((e) => e.id === id)).length).toBeGreaterThanOrEqual(9);

      const s = await idx.search(emb, { mode: 'sparse', k: 10, includeText: false });
      const sx = docs
        .map((x) => ({ id: x.id, s: refSparse(q.sparse, x.embedding!.sparse!) }))
        .filter((x) => x.s > 0)
        .sort((a, b) => b.s - a.s);
      expect(s.length).toBe(Math.min(10, sx.length));
      // uint8 weights: error ≤ Σ w_q · scale/2 with scale ≤ 0.4/255
      const bound = (q.sparse.weights.reduce((a, w) => a + w, 0) * (0.4 / 255)) / 2 + 1e-6;
      for (const h of s) expect(Math.abs(h.score - refSparse(q.sparse, byId.get(h.id)!.embedding!.sparse!))).toBeLessThanOrEqual(bound);
      // Which documents: the float64 top 10, except that documents within the quantisation error of the 10th
      // score may trade places with it.
      const kth = sx[s.length - 1].s;
      const got = new Set(s.map((h) => h.id));
      for (const x of sx) {
        if (x.s > kth + 2 * bound) expect(got.has(x.id), `${x.id} (${x.s}) is missing`).toBe(true);
        else if (x.s < kth - 2 * bound) expect(got.has(x.id), `${x.id} (${x.s}) should not be there`).toBe(false);
      }
      expect(sx.filter((x) => x.s > kth + 2 * bound).length).toBeGreaterThanOrEqual(s.length - 2); // ≥ 8 of 10 pinned by id

      const c = await idx.search(emb, { mode: 'colbert', k: 5, includeText: false });
      const cx = docs.map((x) => ({ id: x.id, s: refColbert(q.colbert, x.embedding!.colbert!, DIMS) })).sort((a, b) => b.s - a.s);
      expect(c[0].id).toBe(cx[0].id);
      for (const h of c) expect(h.score).toBeCloseTo(refColbert(q.colbert, byId.get(h.id)!.embedding!.colbert!, DIMS), 2);

      // weighted fusion = M3 compute_score over dense, sparse, colbert (no text → no BM25)
      const w = { dense: 0.4, sparse: 0.2, colbert: 0.4 };
      const hy = await idx.search(emb, { k: 5, weights: w, includeText: false });
      for (const h of hy) {
        const x = byId.get(h.id)!.embedding!;
        const ref = (0.4 * refDense(dense, x.dense!) + 0.2 * refSparse(q.sparse, x.sparse!) + 0.4 * refColbert(q.colbert, x.colbert!, DIMS)) / 1.0;
        expect(h.score).toBeCloseTo(ref, 2);
        expect(h.score).toBeCloseTo((0.4 * h.signals.dense!.score + 0.2 * h.signals.sparse!.score + 0.4 * h.signals.colbert!.score) / 1.0, 6);
      }
      // normalized: Milvus mapping of inner products
      const no = await idx.search(emb, { k: 5, fusion: 'normalized', weights: w, includeText: false });
      const f = (x: number) => 0.5 + Math.atan(x) / Math.PI;
      for (const h of no)
        expect(h.score).toBeCloseTo((0.4 * f(h.signals.dense!.score) + 0.2 * f(h.signals.sparse!.score) + 0.4 * f(h.signals.colbert!.score)) / 1.0, 6);
      // rrf: Σ 1/(60 + rank) over the signal lists that hold the doc; ranks agree with single-mode results
      const rr = await idx.search(emb, { k: 10, fusion: 'rrf', includeText: false });
      for (const h of rr) {
        let ref = 0;
        for (const sig of Object.values(h.signals)) if (sig.rank) ref += 1 / (60 + sig.rank);
        expect(h.score).toBeCloseTo(ref, 12);
      }
      // Each hit's per-signal rank is its place in that signal's own top-100 (what a single-mode search returns).
      const lists = {
        dense: await idx.search(emb, { mode: 'dense', k: 100, includeText: false }),
        sparse: await idx.search(emb, { mode: 'sparse', k: 100, includeText: false }),
      };
      let ranked = 0;
      for (const h of rr)
        for (const sig of ['dense', 'sparse'] as const) {
          const rank = h.signals[sig]!.rank;
          if (rank === null) expect(lists[sig].some((x) => x.id === h.id)).toBe(false);
          else expect(lists[sig][rank - 1].id, `${sig} rank ${rank} of ${h.id}`).toBe(h.id), ranked++;
        }
      expect(ranked).toBeGreaterThanOrEqual(rr.length); // every RRF hit is in at least one list
      for (let i = 1; i < rr.length; i++) expect(rr[i - 1].score).toBeGreaterThanOrEqual(rr[i].score);
    }
    idx.close();
  });
});

describe('M3Index search behaviour', () => {
  it("hybrid with text: BM25 enters weighted fusion divided by the query's best BM25, normalized fusion as 2·atan(s)/π", async () => {
    const docs = corpus(300, DIMS, 21, { colbert: true });
    const idx = await M3Index.open('bm25-fusion', { store: new MemoryStore(), model, colbert: true, colbertBits: 8 });
    await idx.add(docs, { batchSize: 128 }); // BM25 read across several segments
    const words = docs.map((d) => d.text.split(' ')); // the corpus is lower-case words and single spaces
    const byId = new Map(docs.map((d, i) => [d.id, i]));
    const r = rng(5);
    const w = { dense: 0.4, sparse: 0.2, colbert: 0.4, bm25: 0.3 }; // BM25's weight differs from the others'
    const wsum = 0.4 + 0.2 + 0.4 + 0.3;
    for (let qn = 0; qn < 6; qn++) {
      const target = docs[Math.floor(r() * docs.length)];
      const tw = target.text.split(' ');
      // Two of the target's words, one of them twice (qtf), and a word no document has.
      const qwords = [tw[0], tw[tw.length - 1], tw[tw.length - 1], 'nowhere'];
      const text = qwords.join(' ');
      const t = target.embedding!;
      const dense = gaussianUnit(r, DIMS).map((x, i) => 0.5 * t.dense![i] + 0.5 * x);
      const emb = { dense, sparse: randomSparse(r, 8), colbert: t.colbert!.slice(0, 2 * DIMS), tokens: 4, truncated: false };
      const bm25 = words.map((_, d) => refBm25(qwords, words, d));
      const best = Math.max(...bm25);
      expect(best).toBeGreaterThan(1); // raw BM25 is well above M3's inner products: the division matters

      const hy = await idx.search({ text, embedding: emb }, { k: 10, weights: w, includeText: false });
      expect(hy.length).toBe(10);
      for (const h of hy) {
        const d = byId.get(h.id)!;
        const x = docs[d].embedding!;
        // float32 accumulation in the index: ~1e-7 relative
        expect(Math.abs(h.signals.bm25!.score - bm25[d])).toBeLessThanOrEqual(1e-6 * best);
        // The fused score from the hit's own M3 signals and the independent BM25: exact up to float32 BM25.
        const s = h.signals;
        const fused = (0.4 * s.dense!.score + 0.2 * s.sparse!.score + 0.4 * s.colbert!.score + 0.3 * (bm25[d] / best)) / wsum;
        expect(Math.abs(h.score - fused)).toBeLessThanOrEqual(1e-6);
        // And from float64 references for every signal (int8 / uint8 storage: ~1e-2).
        const ref =
          (0.4 * refDense(dense, x.dense!) +
            0.2 * refSparse(emb.sparse, x.sparse!) +
            0.4 * refColbert(emb.colbert, x.colbert!, DIMS) +
            0.3 * (bm25[d] / best)) /
          wsum;
        expect(Math.abs(h.score - ref)).toBeLessThanOrEqual(1e-2);
      }
      // The top hit is the corpus-wide best of the independent fused score.
      const refAll = docs.map(
        (x, d) =>
          (0.4 * refDense(dense, x.embedding!.dense!) +
            0.2 * refSparse(emb.sparse, x.embedding!.sparse!) +
            0.4 * refColbert(emb.colbert, x.embedding!.colbert!, DIMS) +
            0.3 * (bm25[d] / best)) /
          wsum,
      );
      const top = refAll.indexOf(Math.max(...refAll));
      expect(hy[0].id).toBe(docs[top].id);

      const no = await idx.search({ text, embedding: emb }, { k: 10, fusion: 'normalized', weights: w, includeText: false });
      const ip = (v: number) => 0.5 + Math.atan(v) / Math.PI; // Milvus: inner products
      for (const h of no) {
        const d = byId.get(h.id)!;
        const s = h.signals;
        expect(Math.abs(s.bm25!.score - bm25[d])).toBeLessThanOrEqual(1e-6 * best);
        const want = (0.4 * ip(s.dense!.score) + 0.2 * ip(s.sparse!.score) + 0.4 * ip(s.colbert!.score) + (0.3 * 2 * Math.atan(bm25[d])) / Math.PI) / wsum;
        expect(Math.abs(h.score - want)).toBeLessThanOrEqual(1e-6);
      }
    }
    idx.close();
  });

  it("a page of hits reads its texts in one store call (one IndexedDB transaction), and hits' texts come from the cache after", async () => {
    const store = new IdbStore('page-texts', { indexedDB: new IDBFactory() });
    const idx = await M3Index.open('page-texts', { store, model: { modelId: 'precomputed', dims: 16, headHash: 'h' } });
    const docs = corpus(200, 16, 9);
    await idx.add(docs, { batchSize: 64 });
    const calls: string[][] = [];
    const getDocs = store.getDocs.bind(store);
    store.getDocs = (ids) => (calls.push(ids), getDocs(ids));
    const getDoc = store.getDoc.bind(store);
    store.getDoc = (id) => (calls.push([id]), getDoc(id));
    const q = { embedding: docs[17].embedding! };
    const hits = await idx.search(q, { k: 10, mode: 'dense' });
    expect(hits).toHaveLength(10);
    expect(calls).toEqual([hits.map((h) => h.id)]);
    for (const h of hits) expect(h.text).toBe(docs[Number(h.id.slice(1))].text);
    expect(await idx.search(q, { k: 10, mode: 'dense' })).toEqual(hits);
    expect(calls).toHaveLength(1); // all ten cached
    idx.close();
  });

  it('filters by metadata (equality, $in, ranges, function) before taking the top k', async () => {
    const docs = corpus(200, DIMS, 3);
    const idx = await M3Index.open('f', { store: new MemoryStore(), model });
    await idx.add(docs);
    const q = { embedding: { dense: docs[5].embedding!.dense, tokens: 1, truncated: false } };
    const a = await idx.search(q, { mode: 'dense', k: 20, filter: { group: 'a' } });
    expect(a.length).toBe(20);
    expect(a.every((h) => h.metadata!.group === 'a')).toBe(true);
    const r = await idx.search(q, { mode: 'dense', k: 50, filter: { i: { $gte: 10, $lt: 20 } } });
    expect(r.map((h) => h.metadata!.i as number).sort((x, y) => x - y)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const inn = await idx.search(q, { mode: 'dense', k: 50, filter: { i: { $in: [1, 2, 3] } } });
    expect(inn.map((h) => h.id).sort()).toEqual(['d1', 'd2', 'd3']);
    const fn = await idx.search(q, { mode: 'dense', k: 3, filter: (_m, id) => id === 'd7' });
    expect(fn.map((h) => h.id)).toEqual(['d7']);
    const bm = await idx.search({ text: docs[0].text }, { mode: 'bm25', k: 50, filter: { group: 'b' } });
    expect(bm.length).toBeGreaterThan(0);
    expect(bm.every((h) => h.metadata!.group === 'b')).toBe(true);
    await expect(idx.search(q, { filter: { i: { $near: 3 } } })).rejects.toThrow(/unknown filter operator/);
  });

  it('explain: sparse contributions sum to the sparse score, and highlights point at matched words', async () => {
    const enc = new FakeEncoder({ dims: DIMS });
    const idx = await M3Index.open('e', { store: new MemoryStore(), encoder: enc });
    const text = 'Solar panels convert sunlight into electricity; solar farms need land.';
    await idx.add([
      { id: 's', text },
      { id: 'w', text: 'Wind turbines convert wind into electricity.' },
    ]);
    const [hit] = await idx.search('solar electricity', { k: 1, explain: true });
    expect(hit.id).toBe('s');
    const sum = hit.matches!.reduce((a, m) => a + m.contribution, 0);
    expect(sum).toBeCloseTo(hit.signals.sparse!.score, 5);
    expect(hit.matches!.map((m) => m.token).sort()).toEqual(['electricity', 'solar']);
    for (const m of hit.matches!) expect(m.contribution).toBeCloseTo(m.queryWeight * m.docWeight, 9);
    for (let i = 1; i < hit.matches!.length; i++) expect(hit.matches![i - 1].contribution).toBeGreaterThanOrEqual(hit.matches![i].contribution);
    const words = hit.highlights!.map((h) => text.slice(h.start, h.end).toLowerCase());
    expect(words).toEqual(['solar', 'electricity', 'solar']);
  });

  it('long documents become passages; the best passage scores the document', async () => {
    const enc = new FakeEncoder({ dims: DIMS, maxLength: 24 });
    const idx = await M3Index.open('c', { store: new MemoryStore(), encoder: enc });
    const filler = Array.from({ length: 60 }, (_, i) => `filler${i % 7}`).join(' ');
    const long = `${filler} volcano eruption lava ${filler}`;
    await idx.add([
      { id: 'long', text: long },
      { id: 'short', text: 'a quiet lake' },
    ]);
    expect(enc.calls.reduce((a, b) => a + b, 0)).toBeGreaterThan(3); // several passages were encoded
    const [hit] = await idx.search('volcano lava', { mode: 'dense', k: 1, explain: true });
    expect(hit.id).toBe('long');
    expect(long.slice(hit.passage!.start, hit.passage!.end)).toContain('volcano');
    const ref = await enc.encode([long.slice(hit.passage!.start, hit.passage!.end)], { dense: true });
    const [q] = await enc.encode(['volcano lava'], { dense: true });
    expect(hit.score).toBeCloseTo(refDense(q.dense!, ref[0].dense!), 2);
  });

  it('ColBERT rerank re-fuses the top-N with MaxSim; a clear error without stored vectors', async () => {
    const docs = corpus(80, DIMS, 5, { colbert: true });
    const idx = await M3Index.open('r', { store: new MemoryStore(), model, colbert: true, colbertBits: 8 });
    await idx.add(docs);
    const t = docs[10].embedding!;
    const q = { embedding: { dense: t.dense, colbert: t.colbert, tokens: 3, truncated: false } };
    const hits = await idx.search(q, { mode: 'dense', k: 5, rerank: { colbert: true, topN: 20 } });
    expect(hits[0].id).toBe('d10');
    expect(hits[0].signals.colbert!.score).toBeCloseTo(refColbert(t.colbert!, t.colbert!, DIMS), 2);
    expect(hits[0].score).toBeCloseTo((0.4 * hits[0].signals.dense!.score + 0.4 * hits[0].signals.colbert!.score) / 0.8, 6);
    const plain = await M3Index.open('r2', { store: new MemoryStore(), model });
    await plain.add(corpus(5, DIMS, 1));
    await expect(plain.search(q, { rerank: { colbert: true } })).rejects.toThrow(/ColBERT/);
  });

  it('bad input: ids, duplicates, k, mode, fusion, empty queries', async () => {
    const store = new MemoryStore();
    const idx = await M3Index.open('b', { store, encoder: new FakeEncoder({ dims: DIMS }) });
    await expect(idx.add([{ id: '', text: 'x' }])).rejects.toThrow(M3InputError);
    await expect(idx.add([{ id: 5 as unknown as string, text: 'x' }])).rejects.toMatchObject({ code: 'BAD_INPUT', name: 'M3InputError' });
    await expect(
      idx.add(
        [
          { id: 'a', text: 'x' },
          { id: 'b', text: 'y' },
          { id: 'a', text: 'z' },
        ],
        { batchSize: 1 },
      ),
    ).rejects.toThrow(/duplicate ids.*"a"/);
    expect(idx.count()).toBe(0); // nothing written, not even the first batch
    expect((await store.readSegments()).length).toBe(0);
    await idx.add([{ id: 'a', text: 'hello world' }]);
    for (const k of [0, -1, 1.5, NaN]) await expect(idx.search('hello', { k })).rejects.toThrow(M3InputError);
    await expect(idx.search('hello', { mode: 'fuzzy' as never })).rejects.toThrow(/hybrid, dense, sparse, bm25, colbert/);
    await expect(idx.search('hello', { fusion: 'max' as never })).rejects.toThrow(/weighted, rrf, normalized/);
    // The query syntax calls an empty query an error; with syntax 'plain' it is no results.
    await expect(idx.search('')).rejects.toThrow(/empty query/);
    await expect(idx.search('  ?!… ,')).rejects.toThrow(QuerySyntaxError);
    expect(await idx.search('', { syntax: 'plain' })).toEqual([]);
    expect(await idx.search('  ?!… ,', { syntax: 'plain' })).toEqual([]);
    expect((await idx.search('hello'))[0].id).toBe('a');
  });

  it('abort mid-ingest keeps finished batches and writes nothing of the current one', async () => {
    const store = new MemoryStore();
    const enc = new FakeEncoder({ dims: DIMS });
    const idx = await M3Index.open('a', { store, encoder: enc });
    const ac = new AbortController();
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` }));
    const p = idx.add(docs, {
      batchSize: 10,
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.phase === 'encode' && pr.done === 30) ac.abort(); // while batch 3 is being encoded
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(idx.count()).toBe(20);
    idx.close();
    const again = await M3Index.open('a', { store, encoder: enc });
    expect(again.count()).toBe(20);
    expect(await again.get('d19')).toBeDefined();
    expect(await again.get('d20')).toBeUndefined();
  });

  it('encode progress carries the tokens each batch fed the encoder (for tokens/s)', async () => {
    const idx = await M3Index.open('t', { store: new MemoryStore(), encoder: new FakeEncoder({ dims: DIMS }) });
    const docs = Array.from({ length: 25 }, (_, i) => ({ id: `d${i}`, text: 'word '.repeat(i + 1).trim() }));
    const perBatch: number[] = [];
    await idx.add(docs, { batchSize: 10, onProgress: (p) => p.phase === 'encode' && perBatch.push(p.tokens!) });
    // The fake encoder's token count is words + <s> + </s>: doc i has i + 1 words.
    const expected = [0, 10, 20].map((at) => docs.slice(at, at + 10).reduce((n, _, j) => n + (at + j + 1) + 2, 0));
    expect(perBatch).toEqual(expected);
  });

  it('opening with another model, dims or head is an M3IndexMismatchError unless re-embed / reset', async () => {
    const store = new MemoryStore();
    const idx = await M3Index.open('m', { store, encoder: new FakeEncoder({ dims: DIMS }) });
    await idx.add([
      { id: 'a', text: 'apples' },
      { id: 'b', text: 'bananas' },
    ]);
    idx.close();
    const other = new FakeEncoder({ dims: 16, modelId: 'other-m3', headHash: 'h2' });
    const err = await M3Index.open('m', { store, encoder: other }).catch((e) => e);
    expect(err).toBeInstanceOf(M3IndexMismatchError);
    expect(err).toBeInstanceOf(M3Error);
    expect(err.code).toBe('MODEL_MISMATCH');
    expect(err.message).toMatch(/fake-m3.*other-m3/);
    expect(err.fields).toEqual(['model id', 'dims', 'head hash']);
    const headOnly = await M3Index.open('m', { store, encoder: new FakeEncoder({ dims: DIMS, headHash: 'h2' }) }).catch((e) => e);
    expect(headOnly.fields).toEqual(['head hash']);
    const progress: number[] = [];
    const re = await M3Index.open('m', { store, encoder: other, onMismatch: 're-embed', onProgress: (p) => progress.push(p.done) });
    expect(re.count()).toBe(2);
    expect(re.info.modelId).toBe('other-m3');
    expect(re.info.dims).toBe(16);
    expect(progress.at(-1)).toBe(2);
    expect((await re.search('bananas', { mode: 'dense', k: 1 }))[0].id).toBe('b');
    re.close();
    const reset = await M3Index.open('m', { store, encoder: new FakeEncoder({ dims: DIMS }), onMismatch: 'reset' });
    expect(reset.count()).toBe(0);
  });

  it('opening with another dtype (q8 vectors into an fp32 index) is an M3IndexMismatchError naming both dtypes', async () => {
    const store = new MemoryStore();
    const idx = await M3Index.open('dt', { store, encoder: new FakeEncoder({ dims: DIMS, dtype: 'fp32' }) });
    await idx.add([
      { id: 'a', text: 'apples' },
      { id: 'b', text: 'bananas' },
    ]);
    idx.close();
    const q8 = new FakeEncoder({ dims: DIMS, dtype: 'q8' });
    const err = await M3Index.open('dt', { store, encoder: q8 }).catch((e) => e);
    expect(err).toBeInstanceOf(M3IndexMismatchError);
    expect(err.fields).toEqual(['dtype']);
    expect(err.stored.dtype).toBe('fp32');
    expect(err.given.dtype).toBe('q8');
    expect(err.message).toContain(
      'built with model "fake-m3" (dims 32, head fake-head-1, dtype fp32) but opened with model "fake-m3" (dims 32, head fake-head-1, dtype q8)',
    );
    expect(err.message).toContain('differs in dtype');
    expect(err.message).toContain("load the encoder with { dtype: 'fp32' }");
    // Precomputed vectors: the dtype given in { model } is compared the same way.
    const pre = new MemoryStore();
    const p = await M3Index.open('p', { store: pre, model: { ...model, dtype: 'fp16' } });
    await p.add(corpus(3, DIMS));
    p.close();
    expect((await M3Index.open('p', { store: pre, model: { ...model, dtype: 'q8' } }).catch((e) => e)).fields).toEqual(['dtype']);
    expect((await M3Index.open('p', { store: pre, model: { ...model, dtype: 'fp16' } })).count()).toBe(3);
    // The same dtype opens; re-embed with the new dtype records it.
    const same = await M3Index.open('dt', { store, encoder: new FakeEncoder({ dims: DIMS, dtype: 'fp32' }) });
    expect(same.count()).toBe(2);
    same.close();
    const re = await M3Index.open('dt', { store, encoder: q8, onMismatch: 're-embed' });
    expect(re.info.dtype).toBe('q8');
    expect(re.count()).toBe(2);
    re.close();
    expect((await M3Index.open('dt', { store, encoder: q8 })).count()).toBe(2);
  });

  it('compaction purges tombstones in one commit and keeps every live doc searchable', async () => {
    const store = new MemoryStore();
    const docs = corpus(200, DIMS, 11);
    const idx = await M3Index.open('k', { store, model });
    await idx.add(docs, { batchSize: 50 });
    await idx.remove(docs.slice(0, 80).map((d) => d.id)); // 40% dead → compacts
    const meta = (await store.readMeta())!;
    expect(meta.tombstones).toEqual([]);
    expect(meta.segments.length).toBe(1);
    expect(idx.count()).toBe(120);
    const q = { embedding: { dense: docs[150].embedding!.dense, sparse: docs[150].embedding!.sparse, tokens: 1, truncated: false } };
    expect((await idx.search(q, { k: 1 }))[0].id).toBe('d150');
    expect((await idx.search({ text: docs[150].text }, { mode: 'bm25', k: 200 })).some((h) => h.id === 'd150')).toBe(true);
    idx.close();
    const again = await M3Index.open('k', { store, model });
    expect(again.count()).toBe(120);
    expect((await again.search(q, { k: 1 }))[0].id).toBe('d150');
    expect(await again.get('d10')).toBeUndefined();
  });

  it('a closed index refuses every call with the CLOSED error', async () => {
    const idx = await M3Index.open('c', { store: new MemoryStore(), encoder: new FakeEncoder({ dims: DIMS }) });
    await idx.add([{ id: 'a', text: 'apples' }]);
    idx.close();
    const calls: (() => Promise<unknown>)[] = [() => idx.search('apples'), () => idx.add([{ id: 'b', text: 'x' }]), () => idx.get('a')];
    for (const call of calls) {
      const e = (await Promise.resolve()
        .then(call)
        .catch((x: unknown) => x)) as M3Error;
      expect(e).toBeInstanceOf(M3Error);
      expect(e.code).toBe('CLOSED');
      expect(e.name).toBe('M3ClosedError');
      expect(e.message).toMatch(/index "c" is closed/);
    }
  });
});
