import { describe, expect, it } from 'vitest';
import { bm25DocTerms } from '../src/rank/bm25.ts';
import { Bm25Index, type Bm25Snapshot } from './bm25-index.ts';
import { refBm25 as handScore } from '../test/support/test-corpus.ts';

const DOCS = ['the cat sat on the mat', 'the dog sat', 'cat cat cat and a dog in the house of the cat'];

function corpus(params?: { k1?: number; b?: number }): Bm25Index {
  const idx = new Bm25Index(params);
  DOCS.forEach((d, key) => idx.add(bm25DocTerms(key, d)));
  return idx;
}

const words = DOCS.map((d) => d.split(' '));

describe('Bm25Index', () => {
  it('scores like the hand-computed formula (float32 accumulation)', () => {
    for (const [k1, b] of [
      [1.2, 0.75],
      [2, 0],
      [0.5, 1],
    ]) {
      const idx = corpus({ k1, b });
      expect(idx.size).toBe(3);
      expect(idx.avgLength).toBeCloseTo((6 + 3 + 12) / 3, 12);
      for (const q of ['cat', 'dog sat', 'house cat mat', 'cat cat']) {
        const hits = idx.search(q, 10);
        const expected = [0, 1, 2]
          .map((d) => ({ key: d, score: handScore(q.split(' '), words, d, k1, b) }))
          .filter((h) => h.score > 0)
          .sort((x, y) => y.score - x.score || x.key - y.key);
        expect(hits.map((h) => h.key)).toEqual(expected.map((h) => h.key));
        hits.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i].score, 5));
      }
    }
    // One concrete value: "cat" in doc 0 (tf 1, |d| 6, df 2, N 3).
    const idf = Math.log(1 + 1.5 / 2.5);
    const want = (idf * 2.2) / (1 + 1.2 * (0.25 + (0.75 * 6) / 7));
    expect(
      corpus()
        .search('cat', 3)
        .find((h) => h.key === 0)!.score,
    ).toBeCloseTo(want, 6);
  });

  it('search, scoreDocs and matchedTerms agree', () => {
    const idx = corpus();
    const hits = idx.search('cat dog house', 10);
    const scores = idx.scoreDocs(
      'cat dog house',
      hits.map((h) => h.key),
    );
    hits.forEach((h, i) => expect(scores[i]).toBe(h.score)); // bit-identical
    expect(Array.from(idx.scoreDocs('cat', [1, 99]))).toEqual([0, 0]);
    const m = idx.matchedTerms('house cat zebra', 2);
    expect(m.map((x) => x.term)).toEqual(['house', 'cat']);
    expect(m[0].weight + m[1].weight).toBeCloseTo(idx.scoreDocs('house cat zebra', [2])[0], 5);
    expect(idx.matchedTerms('cat', 1)).toEqual([]);
    expect(idx.search('zebra', 10)).toEqual([]);
    expect(idx.search('', 10)).toEqual([]);
    expect(idx.search('cat', 0)).toEqual([]);
  });

  it('applies the filter and k', () => {
    const idx = corpus();
    expect(idx.search('the', 2).map((h) => h.key)).toHaveLength(2);
    expect(
      idx
        .search('cat dog', 10, { filter: (k) => k !== 2 })
        .map((h) => h.key)
        .sort(),
    ).toEqual([0, 1]);
    // A throwing filter must not leave stale scores behind.
    expect(() =>
      idx.search('cat', 10, {
        filter: () => {
          throw new Error('x');
        },
      }),
    ).toThrow('x');
    expect(idx.search('cat', 10)).toEqual(corpus().search('cat', 10));
  });

  it('remove() then search equals a fresh index without that document', () => {
    let seed = 3;
    const r = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const vocab = Array.from({ length: 40 }, (_, i) => `w${i}`);
    const texts = Array.from({ length: 200 }, () => Array.from({ length: 3 + r(20) }, () => vocab[Math.min(r(40), r(40))]).join(' '));
    const removed = new Set([0, 7, 50, 199, 120]);
    const full = new Bm25Index();
    texts.forEach((t, key) => full.add(bm25DocTerms(key, t)));
    for (const k of removed) full.remove(k);
    full.remove(12345); // unknown: no-op
    const fresh = new Bm25Index();
    texts.forEach((t, key) => {
      if (!removed.has(key)) fresh.add(bm25DocTerms(key, t));
    });
    expect(full.size).toBe(fresh.size);
    expect(full.avgLength).toBe(fresh.avgLength);
    for (const q of ['w0', 'w1 w5 w9', 'w39 w38', 'w2 w2 w3']) {
      expect(full.search(q, 500)).toEqual(fresh.search(q, 500));
    }
    // Re-adding a removed key, and replacing an existing one, also match a fresh build.
    full.add(bm25DocTerms(7, texts[7]));
    full.add(bm25DocTerms(8, 'w1 w1 w1'));
    fresh.add(bm25DocTerms(7, texts[7]));
    fresh.add(bm25DocTerms(8, 'w1 w1 w1'));
    expect(full.search('w1 w4', 500)).toEqual(fresh.search('w1 w4', 500));
  });

  it('snapshot round trip gives identical scores and is structured-cloneable', () => {
    const idx = new Bm25Index({ k1: 1.5, b: 0.6 }, { stem: true });
    const texts = ['Running flows of café air', 'the flow ran', '北京大学 flows naïvely', 'emoji 😀 text', ''];
    texts.forEach((t, i) => idx.add(bm25DocTerms(i * 3, t, { stem: true })));
    idx.remove(3);
    idx.add(bm25DocTerms(100, 'late flow', { stem: true }));
    const snap = structuredClone(idx.toSnapshot()) as Bm25Snapshot;
    expect(snap.postingKeys).toBeInstanceOf(Uint32Array);
    expect(snap.postingTfs).toBeInstanceOf(Uint16Array);
    expect(snap.termBytes).toBeInstanceOf(Uint8Array);
    const back = Bm25Index.fromSnapshot(snap);
    expect(back.params).toEqual({ k1: 1.5, b: 0.6 });
    expect(back.analyzerOptions).toEqual({ stem: true });
    expect(back.size).toBe(idx.size);
    expect(back.avgLength).toBe(idx.avgLength);
    for (const q of ['flow', 'running cafe', '大学', 'air flows late', 'ran']) {
      expect(back.search(q, 10)).toEqual(idx.search(q, 10));
      expect(back.matchedTerms(q, 0)).toEqual(idx.matchedTerms(q, 0));
    }
    // The restored index stays fully mutable.
    back.remove(0);
    idx.remove(0);
    back.add(bm25DocTerms(1, 'flow flow', { stem: true }));
    idx.add(bm25DocTerms(1, 'flow flow', { stem: true }));
    expect(back.search('flow air', 10)).toEqual(idx.search('flow air', 10));
    expect(Bm25Index.fromSnapshot(back.toSnapshot()).search('flow', 10)).toEqual(idx.search('flow', 10));
    // Corruption is detected rather than silently mis-scored.
    expect(() => Bm25Index.fromSnapshot({ ...snap, postingKeys: snap.postingKeys.slice().fill(999) })).toThrow();
  });

  it('keeps hand-built terms exact through a snapshot and validates keys', () => {
    const idx = new Bm25Index();
    idx.add({
      key: 0,
      length: 3,
      terms: new Map([
        ['bad\ud800', 1],
        ['big', 100000],
      ]),
    });
    const back = Bm25Index.fromSnapshot(idx.toSnapshot());
    expect(back.docFreq('bad\ufffd')).toBe(1);
    expect(back.search('big', 1)).toEqual(idx.search('big', 1)); // tf clamped to 65535 in both
    expect(() => idx.add({ key: -1, length: 0, terms: new Map() })).toThrow(RangeError);
    expect(() => idx.add({ key: 1.5, length: 0, terms: new Map() })).toThrow(RangeError);
    expect(() => new Bm25Index({ b: 2 })).toThrow(RangeError);
    const empty = new Bm25Index();
    expect(empty.search('x', 5)).toEqual([]);
    expect(empty.avgLength).toBe(0);
    expect(Bm25Index.fromSnapshot(empty.toSnapshot()).size).toBe(0);
  });
});

describe('Bm25Index edges (each a guard the scoring relies on)', () => {
  it('counts: size, docFreq, idf, vocabulary and average length follow adds, replacements and removals', () => {
    const idx = new Bm25Index();
    idx.add(bm25DocTerms(0, 'cat dog'));
    idx.add(bm25DocTerms(1, 'cat'));
    idx.add(bm25DocTerms(2, 'emu emu emu emu'));
    expect([idx.size, idx.docFreq('cat'), idx.docFreq('emu'), idx.docFreq('zebra'), idx.vocabularySize]).toEqual([3, 2, 1, 0, 3]);
    expect(idx.avgLength).toBe(7 / 3);
    expect(idx.idf('cat')).toBe(Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)));
    expect(idx.idf('zebra')).toBe(0);
    idx.add(bm25DocTerms(1, 'owl owl')); // replaces key 1
    expect([idx.size, idx.docFreq('cat'), idx.docFreq('owl'), idx.vocabularySize, idx.avgLength]).toEqual([3, 1, 1, 4, 8 / 3]);
    idx.remove(2);
    expect([idx.size, idx.has(2), idx.has(0), idx.docFreq('emu'), idx.vocabularySize, idx.avgLength]).toEqual([2, false, true, 0, 3, 2]);
    expect(idx.search('emu', 5)).toEqual([]);
    expect(idx.matchedTerms('cat', 2)).toEqual([]);
    expect(Array.from(idx.scoreDocs('cat owl', [2, 1, 0]))).toEqual([0, idx.search('owl', 1)[0].score, idx.search('cat', 1)[0].score]);
  });

  it('term frequencies are rounded and at least 1; zero or negative counts are no term; long documents are checked', () => {
    const idx = new Bm25Index();
    idx.add({
      key: 0,
      length: 10,
      terms: new Map([
        ['a', 2.6],
        ['b', 0.3],
        ['c', 0],
        ['d', -2],
      ]),
    });
    idx.add({
      key: 1,
      length: 10,
      terms: new Map([
        ['a', 3],
        ['b', 1],
      ]),
    });
    expect([idx.docFreq('a'), idx.docFreq('b'), idx.docFreq('c'), idx.docFreq('d')]).toEqual([2, 2, 0, 0]);
    expect(idx.scoreDocs('a b', [0])[0]).toBe(idx.scoreDocs('a b', [1])[0]); // tf 3 and 1 in both
    for (const length of [-1, 1.5, NaN, 2 ** 32]) expect(() => idx.add({ key: 5, length, terms: new Map() })).toThrow(/bad length/);
    for (const key of [2 ** 32, NaN]) expect(() => idx.add({ key, length: 1, terms: new Map() })).toThrow(/uint32/);
    for (const p of [{ k1: -0.1 }, { k1: NaN }, { k1: Infinity }, { b: -0.01 }, { b: 1.01 }, { b: NaN }]) expect(() => new Bm25Index(p)).toThrow(RangeError);
    expect(new Bm25Index({ k1: 0, b: 0 }).params).toEqual({ k1: 0, b: 0 });
    expect(new Bm25Index({ b: 1 }).params).toEqual({ k1: 1.2, b: 1 });
    expect(idx.search('a', 0.5)).toEqual([]);
  });

  it("documents added in any key order, past a term list's first allocation, score like the formula", () => {
    const texts = Array.from({ length: 40 }, (_, i) => ['common', `w${i % 7}`, ...(i % 3 ? ['rare'] : []), 'common'].join(' '));
    const order = Array.from({ length: 40 }, (_, i) => (i * 17) % 40); // keys out of order
    const idx = new Bm25Index();
    for (const key of order) idx.add(bm25DocTerms(key, texts[key]));
    const words = texts.map((t) => t.split(' '));
    for (const q of ['common', 'rare w3', 'w0 w0 common']) {
      const want = words
        .map((_, d) => ({ key: d, score: handScore(q.split(' '), words, d) }))
        .filter((h) => h.score > 0)
        .sort((a, b) => b.score - a.score || a.key - b.key);
      const got = idx.search(q, 40);
      expect(got.map((h) => h.key).sort((a, b) => a - b)).toEqual(want.map((h) => h.key).sort((a, b) => a - b));
      const ref = new Map(want.map((h) => [h.key, h.score]));
      for (const h of got) expect(h.score).toBeCloseTo(ref.get(h.key)!, 5);
      for (let i = 1; i < got.length; i++) expect(got[i - 1].score).toBeGreaterThanOrEqual(got[i].score);
    }
    for (const key of [0, 39, 20]) idx.remove(key);
    expect(idx.docFreq('common')).toBe(37);
    expect(
      idx
        .search('common', 50)
        .map((h) => h.key)
        .sort((a, b) => a - b),
    ).toEqual(order.filter((k) => ![0, 39, 20].includes(k)).sort((a, b) => a - b));
  });

  it('two raw terms that sanitise to one term add their frequencies', () => {
    const idx = new Bm25Index();
    idx.add({
      key: 0,
      length: 5,
      terms: new Map([
        ['x\ud800', 2],
        ['x\ufffd', 3],
      ]),
    });
    idx.add({ key: 1, length: 5, terms: new Map([['x\ufffd', 5]]) });
    expect(idx.docFreq('x\ufffd')).toBe(2);
    expect(idx.scoreDocs('x\ufffd', [0])[0]).toBe(idx.scoreDocs('x\ufffd', [1])[0]);
  });

  it('a snapshot drops emptied terms, takes parameter overrides, and refuses every kind of damage', () => {
    const idx = new Bm25Index();
    ['alpha beta', 'beta gamma', 'gamma delta'].forEach((t, k) => idx.add(bm25DocTerms(k, t)));
    idx.remove(0); // "alpha" has no postings left
    const snap = idx.toSnapshot();
    expect(new TextDecoder().decode(snap.termBytes)).toBe('betagammadelta');
    expect(Array.from(snap.docKeys)).toEqual([1, 2]);
    expect(Bm25Index.fromSnapshot(snap).vocabularySize).toBe(3);
    expect(Bm25Index.fromSnapshot(snap, { k1: 2 }).params).toEqual({ k1: 2, b: 0.75 });
    expect(Bm25Index.fromSnapshot(snap, undefined, { stem: true }).analyzerOptions).toEqual({ stem: true });
    const bad: [Partial<Bm25Snapshot>, RegExp][] = [
      [{ format: 'x' as never }, /not a version-1/],
      [{ version: 2 as never }, /not a version-1/],
      [{ postingOffsets: snap.postingOffsets.slice(1) }, /inconsistent/],
      [{ postingTfs: snap.postingTfs.slice(1) }, /inconsistent/],
      [{ docLengths: snap.docLengths.slice(1) }, /inconsistent/],
      [{ termBytes: snap.termBytes.slice(1) }, /dictionary/],
      [{ docKeys: Uint32Array.of(1, 1) }, /appears twice/],
      [{ postingKeys: snap.postingKeys.map((k) => (k === 2 ? 7 : k)) }, /unknown document/],
      [{ postingKeys: Uint32Array.of(2, 1, 1, 2), postingOffsets: Uint32Array.of(0, 2, 3, 4) }, /not in key order/],
    ];
    for (const [patch, why] of bad) expect(() => Bm25Index.fromSnapshot({ ...snap, ...patch })).toThrow(why);
  });
});
