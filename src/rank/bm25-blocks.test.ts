/** Bm25Index.addBlocks (whole segments' postings) must build the same index as add() per document. */
import { describe, expect, it } from 'vitest';
import { Bm25Index, bm25DocTerms, type Bm25BlockSource, type Bm25DocTerms } from './bm25.ts';

/** Term-grouped postings of some documents, as the segment builder lays them out. */
function block(docs: Bm25DocTerms[]): Bm25BlockSource {
  const byTerm = new Map<string, [number, number][]>();
  docs.forEach((d, i) => {
    for (const [t, tf] of d.terms) {
      if (!byTerm.has(t)) byTerm.set(t, []);
      byTerm.get(t)!.push([i, tf]);
    }
  });
  const terms = [...byTerm.keys()].sort();
  const offsets = new Uint32Array(terms.length + 1);
  const flat = terms.flatMap((t) => byTerm.get(t)!);
  terms.forEach((t, i) => (offsets[i + 1] = offsets[i] + byTerm.get(t)!.length));
  return {
    keys: Uint32Array.from(docs, (d) => d.key),
    bm25: { terms, offsets, docs: Uint16Array.from(flat, (x) => x[0]), tfs: Uint16Array.from(flat, (x) => x[1]), lengths: Uint32Array.from(docs, (d) => d.length) },
  };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const r = mulberry32(3);
const WORDS = Array.from({ length: 300 }, (_, i) => `w${i}`);
const text = () => Array.from({ length: 1 + Math.floor(r() * 30) }, () => WORDS[Math.floor(WORDS.length * r() * r())]).join(' ');
const QUERIES = ['w0', 'w1 w2 w3', 'w5 w5 w40', 'w100 w0 w7', 'nothing', 'w299 w2'];

function expectSame(a: Bm25Index, b: Bm25Index, keys: number[]): void {
  expect(a.size).toBe(b.size);
  expect(a.avgLength).toBe(b.avgLength);
  expect(a.vocabularySize).toBe(b.vocabularySize);
  for (const q of QUERIES) {
    expect(a.search(q, 50)).toEqual(b.search(q, 50));
    expect(Array.from(a.scoreDocs(q, keys))).toEqual(Array.from(b.scoreDocs(q, keys)));
    for (const k of keys.slice(0, 20)) expect(a.matchedTerms(q, k)).toEqual(b.matchedTerms(q, k));
  }
}

describe('Bm25Index.addBlocks', () => {
  it('equals add() document by document: several blocks, dead keys skipped, then more blocks and removals', () => {
    const docs = Array.from({ length: 900 }, (_, key) => bm25DocTerms(key, key % 97 === 0 ? '' : text()));
    const segs = [docs.slice(0, 300), docs.slice(300, 301), docs.slice(301, 700)].map(block);
    const dead = new Set([5, 300, 450, 699]);
    const a = new Bm25Index();
    a.addBlocks(segs, (k) => !dead.has(k));
    const b = new Bm25Index();
    for (const d of docs.slice(0, 700)) if (!dead.has(d.key)) b.add(d);
    const keys = docs.map((d) => d.key);
    expectSame(a, b, keys);
    // Incremental: one more block, then removals and re-adds on both.
    a.addBlocks([block(docs.slice(700))]);
    for (const d of docs.slice(700)) b.add(d);
    for (const k of [0, 10, 701, 899]) (a.remove(k), b.remove(k));
    a.add(bm25DocTerms(10, 'w1 w1 w2'));
    b.add(bm25DocTerms(10, 'w1 w1 w2'));
    expectSame(a, b, keys);
    expectSame(Bm25Index.fromSnapshot(a.toSnapshot()), b, keys);
  });

  it('replaces existing keys and handles keys out of order like add()', () => {
    const docs = Array.from({ length: 50 }, (_, key) => bm25DocTerms(key, text()));
    const a = new Bm25Index();
    const b = new Bm25Index();
    a.addBlocks([block(docs.slice(20))]);
    for (const d of docs.slice(20)) b.add(d);
    // Lower keys after higher ones (posting inserts), and keys already present (replaced).
    const again = [...docs.slice(0, 20), ...[25, 30].map((key) => bm25DocTerms(key, 'w3 w3 w9'))];
    a.addBlocks([block(again.slice(0, 10)), block(again.slice(10))]);
    for (const d of again) b.add(d);
    expectSame(a, b, docs.map((d) => d.key));
    const shuffled = [docs[7], docs[3], bm25DocTerms(60, 'w1')];
    a.addBlocks([block(shuffled)]);
    for (const d of shuffled) b.add(d);
    expectSame(a, b, [...docs.map((d) => d.key), 60]);
  });

  it('sanitises hand-built terms and clamps tfs as add() does', () => {
    const d: Bm25DocTerms = { key: 0, length: 3, terms: new Map([['bad\ud800', 1], ['bad\ufffd', 2], ['big', 100000]]) };
    const a = new Bm25Index();
    a.addBlocks([block([d])]);
    const b = new Bm25Index();
    b.add(d);
    expect(a.docFreq('bad\ufffd')).toBe(1);
    expectSame(a, b, [0]);
  });
});
