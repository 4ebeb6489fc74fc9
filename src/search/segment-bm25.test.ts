/** SegmentBm25 (postings read in place from segments) must score exactly like Bm25Index. */
import { describe, expect, it } from 'vitest';
import { Bm25Index, DEFAULT_BM25_PARAMS, bm25DocTerms, type Bm25BlockSource, type Bm25DocTerms } from '../rank/bm25.ts';
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
