/** SegmentBm25 (postings read in place from segments) must score exactly like Bm25Index. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BM25_PARAMS, bm25DocTerms, type Bm25BlockSource, type Bm25DocTerms } from '../rank/bm25.ts';
import { Bm25Index } from '../../bench/bm25-index.ts';
import { SegmentBm25 } from './segment-bm25.ts';
import { mulberry32 } from '../util/random.ts';

function block(docs: Bm25DocTerms[], shuffleTerms = false): Bm25BlockSource {
  const byTerm = new Map<string, [number, number][]>();
  docs.forEach((d, i) => {
    for (const [t, tf] of d.terms) {
      if (!byTerm.has(t)) byTerm.set(t, []);
      byTerm.get(t)!.push([i, tf]);
    }
  });
  const terms = [...byTerm.keys()].sort();
  if (shuffleTerms) terms.reverse();
  const offsets = new Uint32Array(terms.length + 1);
  const flat = terms.flatMap((t) => byTerm.get(t)!);
  terms.forEach((t, i) => (offsets[i + 1] = offsets[i] + byTerm.get(t)!.length));
  return {
    keys: Uint32Array.from(docs, (d) => d.key),
    bm25: { terms, offsets, docs: Uint16Array.from(flat, (x) => x[0]), tfs: Uint8Array.from(flat, (x) => x[1]), lengths: Uint32Array.from(docs, (d) => d.length) },
  };
}

const r = mulberry32(9);
const WORDS = Array.from({ length: 200 }, (_, i) => `w${i}`);
const text = () => Array.from({ length: 1 + Math.floor(r() * 40) }, () => WORDS[Math.floor(WORDS.length * r() * r())]).join(' ');
const QUERIES = ['w0', 'w1 w2 w3', 'w5 w5 w40', 'w100 w0 w7 w0', 'nothing here', 'w199 w2', ''];

function expectSame(a: SegmentBm25, b: Bm25Index, keys: number[]): void {
  expect(a.size).toBe(b.size);
  expect(a.avgLength).toBe(b.avgLength);
  for (const w of ['w0', 'w3', 'w150', 'zzz']) expect(a.docFreq(w)).toBe(b.docFreq(w));
  for (const k of keys) expect(a.has(k)).toBe(b.has(k));
  for (const q of QUERIES) {
    for (const k of [1, 10, 1000]) expect(a.search(q, k)).toEqual(b.search(q, k));
    const odd = { filter: (key: number) => key % 2 === 1 };
    expect(a.search(q, 7, odd)).toEqual(b.search(q, 7, odd));
    expect(Array.from(a.scoreDocs(q, keys))).toEqual(Array.from(b.scoreDocs(q, keys)));
    for (const k of keys.filter((_, i) => i % 37 === 0)) expect(a.matchedTerms(q, k)).toEqual(b.matchedTerms(q, k));
  }
}

describe('SegmentBm25', () => {
  it('scores exactly like Bm25Index: blocks, dead keys, later segments, removals and replacements', () => {
    const docs = Array.from({ length: 1200 }, (_, key) => bm25DocTerms(key, key % 101 === 0 ? '' : text()));
    const dead = new Set([3, 400, 401, 999]);
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    a.addBlocks([block(docs.slice(0, 500)), block(docs.slice(500, 501)), block(docs.slice(501, 1000))], (k) => !dead.has(k));
    for (const d of docs.slice(0, 1000)) if (!dead.has(d.key)) b.add(d);
    const keys = [...docs.map((d) => d.key), 5000];
    expectSame(a, b, keys);
    // A later segment, then removals; then a segment replacing existing keys (another tab's upsert).
    a.addBlocks([block(docs.slice(1000))]);
    for (const d of docs.slice(1000)) b.add(d);
    for (const k of [0, 10, 1001, 1199, 3]) (a.remove(k), b.remove(k));
    expectSame(a, b, keys);
    const again = [10, 20, 30, 1100].map((key) => bm25DocTerms(key, 'w1 w1 w2 w150'));
    a.addBlocks([block(again)]);
    for (const d of again) b.add(d);
    expectSame(a, b, keys);
  });

  it('repairs blocks whose terms are not sorted, and keys out of order', () => {
    const docs = Array.from({ length: 60 }, (_, key) => bm25DocTerms(key, text()));
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    a.addBlocks([block(docs.slice(30), true), block(docs.slice(0, 30))]);
    for (const d of [...docs.slice(30), ...docs.slice(0, 30)]) b.add(d);
    expectSame(a, b, docs.map((d) => d.key));
  });
});

describe('SegmentBm25 edges', () => {
  it('a block with repeated terms merges their frequencies; odd stored tfs are clamped like Bm25Index', () => {
    // Raw block: term "a" listed twice for doc 0 (tfs add up), a fractional tf, a zero tf, and a huge one.
    const raw: Bm25BlockSource = {
      keys: Uint32Array.of(0, 1, 2),
      bm25: { terms: ['b', 'a', 'a', 'c'], offsets: Uint32Array.of(0, 1, 2, 3, 5), docs: Uint32Array.of(1, 0, 0, 2, 1), tfs: Float64Array.of(2.6, 1, 2, 0, 70000), lengths: Uint32Array.of(4, 5, 6) },
    };
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    a.addBlocks([raw]);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    b.add({ key: 0, length: 4, terms: new Map([['a', 3]]) });
    b.add({ key: 1, length: 5, terms: new Map([['b', 3], ['c', 65535]]) });
    b.add({ key: 2, length: 6, terms: new Map() });
    expect([a.docFreq('a'), a.docFreq('b'), a.docFreq('c')]).toEqual([1, 1, 1]);
    expectSame(a, b, [0, 1, 2]);
    // The same tfs in a sorted block (read in place): fractional and oversized tfs are clamped the same way.
    const sorted: Bm25BlockSource = { keys: Uint32Array.of(0, 1), bm25: { terms: ['a', 'c'], offsets: Uint32Array.of(0, 1, 2), docs: Uint32Array.of(0, 1), tfs: Float64Array.of(2.6, 70000), lengths: Uint32Array.of(4, 5) } };
    const c = new SegmentBm25(DEFAULT_BM25_PARAMS);
    c.addBlocks([sorted]);
    const d = new Bm25Index(DEFAULT_BM25_PARAMS);
    d.add({ key: 0, length: 4, terms: new Map([['a', 3]]) });
    d.add({ key: 1, length: 5, terms: new Map([['c', 65535]]) });
    expectSame(c, d, [0, 1]);
  });

  it('refuses bad keys and lengths; unknown and negative keys are absent; removing one is a no-op', () => {
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const one = (key: number, length: number): Bm25BlockSource => ({ keys: [key], bm25: { terms: ['x'], offsets: [0, 1], docs: [0], tfs: [1], lengths: [length] } });
    for (const key of [-1, 1.5, 2 ** 32]) expect(() => a.addBlocks([one(key, 1)])).toThrow(/uint32/);
    for (const length of [-1, 0.5, 2 ** 32]) expect(() => new SegmentBm25(DEFAULT_BM25_PARAMS).addBlocks([one(0, length)])).toThrow(/bad length/);
    const s = new SegmentBm25(DEFAULT_BM25_PARAMS);
    s.addBlocks([one(3, 2)]);
    expect([s.has(3), s.has(-1), s.has(4), s.has(99999)]).toEqual([true, false, false, false]);
    s.remove(4);
    s.remove(-1);
    expect([s.size, s.avgLength]).toEqual([1, 2]);
    expect(s.matchedTerms('x', 4)).toEqual([]);
    expect(Array.from(s.scoreDocs('x', [4, 3])).map((v) => v > 0)).toEqual([false, true]);
    expect(s.search('x', 0.5)).toEqual([]);
    s.remove(3);
    expect([s.size, s.avgLength, s.docFreq('x')]).toEqual([0, 0, 0]);
    expect(s.search('x', 5)).toEqual([]);
    expect(new SegmentBm25({ k1: 1.5, b: 0.3 }).params).toEqual({ k1: 1.5, b: 0.3 });
  });

  it('keys far beyond the first allocation, and many distinct query terms, still score like Bm25Index', () => {
    const docs = Array.from({ length: 300 }, (_, i) => bm25DocTerms(5000 + i * 7, text()));
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    a.addBlocks([block(docs.slice(0, 150)), block(docs.slice(150))]);
    for (const d of docs) b.add(d);
    expectSame(a, b, docs.map((d) => d.key));
    const all = WORDS.join(' ');
    expect(a.search(all, 1000)).toEqual(b.search(all, 1000));
  });
});
