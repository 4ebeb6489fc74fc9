/** SegmentBm25 (postings read in place from segments) must score exactly like Bm25Index. */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_BM25_PARAMS, bm25DocTerms, type Bm25BlockSource, type Bm25DocTerms } from '../rank/bm25.ts';
import { Bm25Index } from '../../bench/bm25-index.ts';
import { encodeBm25 } from '../store/bm25-postings.ts';
import { SegmentBm25 } from './segment-bm25.ts';
import { mulberry32 } from '../util/random.ts';
import { plainBm25Block as block } from '../../test/support/bm25-plain-block.ts';

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
    for (const k of [0, 10, 1001, 1199, 3]) a.remove(k), b.remove(k);
    expectSame(a, b, keys);
    const again = [10, 20, 30, 1100].map((key) => bm25DocTerms(key, 'w1 w1 w2 w150'));
    a.addBlocks([block(again)]);
    for (const d of again) b.add(d);
    expectSame(a, b, keys);
  });

  it("a stored (coded) block, a plain block and one listing a term's documents in descending order score alike", () => {
    const docs = Array.from({ length: 300 }, (_, key) => bm25DocTerms(key, text()));
    const plain = block(docs);
    const { terms, offsets, docs: d, tfs, lengths } = plain.bm25;
    const coded = { keys: plain.keys, bm25: encodeBm25([...terms], offsets, d, tfs, Uint32Array.from(lengths)) };
    // Each term's entries reversed: documents descending within a term (repaired before coding).
    const rd = Uint16Array.from(d);
    const rt = Uint8Array.from(tfs);
    for (let t = 0; t < terms.length; t++) {
      rd.subarray(offsets[t], offsets[t + 1]).reverse();
      rt.subarray(offsets[t], offsets[t + 1]).reverse();
    }
    const reversed = { keys: plain.keys, bm25: { ...plain.bm25, docs: rd, tfs: rt } };
    const ref = new Bm25Index(DEFAULT_BM25_PARAMS);
    for (const doc of docs) ref.add(doc);
    const keys = docs.map((x) => x.key);
    for (const src of [plain, coded, reversed]) {
      const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
      a.addBlocks([src]);
      expectSame(a, ref, keys);
    }
  });

  it('refuses document lengths that are not uint32, naming the length', () => {
    const plain = block(Array.from({ length: 5 }, (_, key) => bm25DocTerms(key, text())));
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      const lengths = [bad, ...Array.from(plain.bm25.lengths).slice(1)];
      expect(() => new SegmentBm25(DEFAULT_BM25_PARAMS).addBlocks([{ keys: plain.keys, bm25: { ...plain.bm25, lengths } }])).toThrow(`BM25: bad length ${bad}`);
    }
    // One length too few or too many, in a plain or a coded block.
    for (const lengths of [Array.from(plain.bm25.lengths).slice(1), [...Array.from(plain.bm25.lengths), 3]]) {
      expect(() => new SegmentBm25(DEFAULT_BM25_PARAMS).addBlocks([{ keys: plain.keys, bm25: { ...plain.bm25, lengths } }])).toThrow(
        `BM25: ${lengths.length} document lengths for 5 documents`,
      );
      const { terms, offsets, docs, tfs } = plain.bm25;
      const coded = encodeBm25([...terms], offsets, docs, tfs, Uint32Array.from(lengths));
      expect(() => new SegmentBm25(DEFAULT_BM25_PARAMS).addBlocks([{ keys: plain.keys, bm25: coded }])).toThrow(
        `BM25: ${lengths.length} document lengths for 5 documents`,
      );
    }
    // The largest uint32 and 0 are lengths (an empty document).
    const edge = [0xffffffff, 0, ...Array.from(plain.bm25.lengths).slice(2)];
    expect(() => new SegmentBm25(DEFAULT_BM25_PARAMS).addBlocks([{ keys: plain.keys, bm25: { ...plain.bm25, lengths: edge } }])).not.toThrow();
  });

  it('repairs blocks whose terms are not sorted, and keys out of order', () => {
    const docs = Array.from({ length: 60 }, (_, key) => bm25DocTerms(key, text()));
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    a.addBlocks([block(docs.slice(30), true), block(docs.slice(0, 30))]);
    for (const d of [...docs.slice(30), ...docs.slice(0, 30)]) b.add(d);
    expectSame(
      a,
      b,
      docs.map((d) => d.key),
    );
  });
});

describe('SegmentBm25 edges', () => {
  it('a block with repeated terms merges their frequencies; odd stored tfs are clamped like Bm25Index', () => {
    // Raw block: term "a" listed twice for doc 0 (tfs add up), a fractional tf, a zero tf, and a huge one.
    const raw: Bm25BlockSource = {
      keys: Uint32Array.of(0, 1, 2),
      bm25: {
        terms: ['b', 'a', 'a', 'c'],
        offsets: Uint32Array.of(0, 1, 2, 3, 5),
        docs: Uint32Array.of(1, 0, 0, 2, 1),
        tfs: Float64Array.of(2.6, 1, 2, 0, 70000),
        lengths: Uint32Array.of(4, 5, 6),
      },
    };
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    a.addBlocks([raw]);
    const b = new Bm25Index(DEFAULT_BM25_PARAMS);
    b.add({ key: 0, length: 4, terms: new Map([['a', 3]]) });
    b.add({
      key: 1,
      length: 5,
      terms: new Map([
        ['b', 3],
        ['c', 65535],
      ]),
    });
    b.add({ key: 2, length: 6, terms: new Map() });
    expect([a.docFreq('a'), a.docFreq('b'), a.docFreq('c')]).toEqual([1, 1, 1]);
    expectSame(a, b, [0, 1, 2]);
    // The same tfs in a sorted block (read in place): fractional and oversized tfs are clamped the same way.
    const sorted: Bm25BlockSource = {
      keys: Uint32Array.of(0, 1),
      bm25: {
        terms: ['a', 'c'],
        offsets: Uint32Array.of(0, 1, 2),
        docs: Uint32Array.of(0, 1),
        tfs: Float64Array.of(2.6, 70000),
        lengths: Uint32Array.of(4, 5),
      },
    };
    const c = new SegmentBm25(DEFAULT_BM25_PARAMS);
    c.addBlocks([sorted]);
    const d = new Bm25Index(DEFAULT_BM25_PARAMS);
    d.add({ key: 0, length: 4, terms: new Map([['a', 3]]) });
    d.add({ key: 1, length: 5, terms: new Map([['c', 65535]]) });
    expectSame(c, d, [0, 1]);
  });

  it('refuses bad keys and lengths; unknown and negative keys are absent; removing one is a no-op', () => {
    const a = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const one = (key: number, length: number): Bm25BlockSource => ({
      keys: [key],
      bm25: { terms: ['x'], offsets: [0, 1], docs: [0], tfs: [1], lengths: [length] },
    });
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
    expectSame(
      a,
      b,
      docs.map((d) => d.key),
    );
    const all = WORDS.join(' ');
    expect(a.search(all, 1000)).toEqual(b.search(all, 1000));
  });
});

// ---- Against a reference BM25 computed here (float64, the textbook formula), never by the code under test ----

type RefQuery = string | { term: string; weight: number }[];
interface Ref {
  scores: Map<number, number>;
  parts: Map<number, { term: string; weight: number }[]>;
}

/**
 * BM25 over the live documents: N, avgdl = Σ|d| / N, df among live documents, idf = ln(1 + (N − df + 0.5) /
 * (df + 0.5)), and per query term qw · idf · (k1 + 1) · tf / (tf + k1 · (1 − b + b · |d| / avgdl)). A query's
 * weight per term is the sum of its positive weights (a word in a text query weighs 1 per occurrence); terms no
 * live document has are dropped. With avgdl = 0 the length ratio is taken as 0.
 */
function referenceBm25(live: Bm25DocTerms[], query: RefQuery, { k1, b }: { k1: number; b: number }): Ref {
  const N = live.length;
  const avg = N === 0 ? 0 : live.reduce((a, d) => a + d.length, 0) / N;
  const words =
    typeof query === 'string'
      ? query
          .split(/\s+/)
          .filter(Boolean)
          .map((term) => ({ term, weight: 1 }))
      : query;
  const dfs = new Map<string, number>();
  const df = (t: string) => dfs.get(t) ?? dfs.set(t, live.filter((d) => (d.terms.get(t) ?? 0) > 0).length).get(t)!;
  const qw = new Map<string, number>();
  for (const { term, weight } of words) if (weight > 0 && df(term) > 0) qw.set(term, (qw.get(term) ?? 0) + weight);
  const scores = new Map<number, number>();
  const parts = new Map<number, { term: string; weight: number }[]>();
  for (const d of live) {
    const mine: { term: string; weight: number }[] = [];
    for (const [term, w] of qw) {
      const tf = d.terms.get(term) ?? 0;
      if (tf <= 0) continue;
      const n = df(term);
      const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
      const ratio = avg > 0 ? d.length / avg : 0;
      mine.push({ term, weight: (w * idf * (k1 + 1) * tf) / (tf + k1 * (1 - b + b * ratio)) });
    }
    if (mine.length) {
      scores.set(
        d.key,
        mine.reduce((a, p) => a + p.weight, 0),
      );
      parts.set(d.key, mine);
    }
  }
  return { scores, parts };
}

/** Scores are accumulated in float32 (search, scoreDocs): relative error measured ≤ 7.9e-8 on these corpora. */
const F32_TOL = 1e-6;
/** matchedTerms computes each part in float64: measured ≤ 4.0e-16 relative. */
const F64_TOL = 4e-15;
const close = (got: number, want: number, tol: number) => Math.abs(got - want) <= tol * Math.abs(want);
let worstF32 = 0;
let worstF64 = 0;

function expectReference(seg: SegmentBm25, live: Bm25DocTerms[], queries: RefQuery[], probeKeys: number[], params = DEFAULT_BM25_PARAMS): void {
  expect(seg.size).toBe(live.length);
  expect(seg.avgLength).toBe(live.length ? live.reduce((a, d) => a + d.length, 0) / live.length : 0);
  const vocabulary = new Set(live.flatMap((d) => [...d.terms.keys()]));
  for (const t of [...vocabulary, 'absent-term']) {
    const keys = live
      .filter((d) => (d.terms.get(t) ?? 0) > 0)
      .map((d) => d.key)
      .sort((x, y) => x - y);
    expect(seg.docFreq(t), t).toBe(keys.length);
    expect(Array.from(seg.keysOf(t)), t).toEqual(keys);
  }
  for (const q of queries) {
    const ref = referenceBm25(live, q, params);
    const want = [...ref.scores.values()].sort((x, y) => y - x);
    const all = seg.search(q, 1e9);
    expect(
      all.map((h) => h.key).sort((x, y) => x - y),
      JSON.stringify(q),
    ).toEqual([...ref.scores.keys()].sort((x, y) => x - y));
    for (let i = 0; i < all.length; i++) {
      const w = ref.scores.get(all[i].key)!;
      worstF32 = Math.max(worstF32, Math.abs(all[i].score - w) / w);
      expect(close(all[i].score, w, F32_TOL), `${JSON.stringify(q)} key ${all[i].key}: ${all[i].score} vs ${w}`).toBe(true);
      if (i > 0) expect(all[i].score < all[i - 1].score || (all[i].score === all[i - 1].score && all[i].key > all[i - 1].key)).toBe(true);
    }
    // The top 3, and the top 5 of the odd keys: the best reference scores (compared by value: ties may swap).
    const top = seg.search(q, 3);
    expect(top.length).toBe(Math.min(3, want.length));
    top.forEach((h, i) => expect(close(h.score, want[i], F32_TOL)).toBe(true));
    const oddWant = [...ref.scores]
      .filter(([k]) => k % 2 === 1)
      .map(([, s]) => s)
      .sort((x, y) => y - x)
      .slice(0, 5);
    const odd = seg.search(q, 5, { filter: (key) => key % 2 === 1 });
    expect(odd.every((h) => h.key % 2 === 1)).toBe(true);
    expect(odd.length).toBe(oddWant.length);
    odd.forEach((h, i) => expect(close(h.score, oddWant[i], F32_TOL)).toBe(true));
    // scoreDocs: the same values for any keys, 0 for unknown, removed or unmatched ones.
    const sd = seg.scoreDocs(q, probeKeys);
    probeKeys.forEach((k, j) => {
      const w = ref.scores.get(k);
      if (w === undefined) expect(sd[j], `scoreDocs ${JSON.stringify(q)} key ${k}`).toBe(0);
      else expect(close(sd[j], w, F32_TOL), `scoreDocs ${JSON.stringify(q)} key ${k}: ${sd[j]} vs ${w}`).toBe(true);
    });
    for (const k of probeKeys) {
      const got = seg.matchedTerms(q, k);
      const exp = ref.parts.get(k) ?? [];
      expect(got.map((p) => p.term)).toEqual(exp.map((p) => p.term));
      got.forEach((p, i) => {
        worstF64 = Math.max(worstF64, Math.abs(p.weight - exp[i].weight) / exp[i].weight);
        expect(close(p.weight, exp[i].weight, F64_TOL)).toBe(true);
      });
    }
  }
}

const terms = (key: number, words: string): Bm25DocTerms => {
  const list = words.split(/\s+/).filter(Boolean);
  const m = new Map<string, number>();
  for (const w of list) m.set(w, (m.get(w) ?? 0) + 1);
  return { key, length: list.length, terms: m };
};

describe('SegmentBm25 against a reference BM25 computed in the test', () => {
  const rr = mulberry32(23);
  const words = Array.from({ length: 40 }, (_, i) => `t${i}`);
  const doc = (key: number) => terms(key, Array.from({ length: 1 + Math.floor(rr() * 25) }, () => words[Math.floor(words.length * rr() * rr())]).join(' '));
  const REF_QUERIES: RefQuery[] = [
    't0',
    't1 t2 t3',
    't5 t5 t30', // a repeated word weighs twice
    't39 t0 t7 t0 nothing',
    '',
    [
      { term: 't3', weight: 0.5 },
      { term: 't1', weight: 2 },
      { term: 't3', weight: 0.25 },
    ],
    // Non-positive and NaN weights drop the term (not a negative score); the positive ones remain.
    [
      { term: 't0', weight: -1 },
      { term: 't2', weight: 1 },
      { term: 't4', weight: 0 },
      { term: 't6', weight: Number.NaN },
    ],
    [{ term: 't0', weight: 0 }],
  ];

  it('segments, dead keys, removals and replacements: N, avgdl, df, keys, scores, top k, filters, matched terms', () => {
    const docs = Array.from({ length: 300 }, (_, i) => doc(i));
    docs[17] = terms(17, ''); // an empty document counts in N and avgdl
    const dead = new Set([4, 150, 151]);
    const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
    seg.addBlocks([block(docs.slice(0, 100)), block(docs.slice(100, 101)), block(docs.slice(101, 200))], (k) => !dead.has(k));
    const live = new Map(
      docs
        .slice(0, 200)
        .filter((d) => !dead.has(d.key))
        .map((d) => [d.key, d]),
    );
    const probe = [0, 1, 4, 17, 99, 100, 150, 199, 250, 5000, -1];
    expectReference(seg, [...live.values()], REF_QUERIES, probe);
    seg.addBlocks([block(docs.slice(200))]);
    for (const d of docs.slice(200)) live.set(d.key, d);
    for (const k of [0, 10, 201, 299, 4]) seg.remove(k), live.delete(k);
    expectReference(seg, [...live.values()], REF_QUERIES, probe);
    // A later segment replaces keys (another tab's upsert): their old postings no longer count.
    const again = [10, 20, 30, 250].map((key) => terms(key, 't1 t1 t2 t39 new'));
    seg.addBlocks([block(again)]);
    for (const d of again) live.set(d.key, d);
    expectReference(seg, [...live.values()], [...REF_QUERIES, 'new t39'], [...probe, 20, 30]);
    // Other parameters.
    for (const params of [
      { k1: 0.9, b: 0.4 },
      { k1: 2, b: 0 },
      { k1: 1.2, b: 1 },
    ]) {
      const other = new SegmentBm25(params);
      other.addBlocks([block(docs.slice(0, 150)), block(docs.slice(150))]);
      expectReference(other, docs, REF_QUERIES.slice(0, 4), probe, params);
    }
  });

  it('a block whose terms are unsorted or repeated is repaired: repeated terms add their tfs', () => {
    // Terms out of order, "a" listed twice (doc 0 twice: tfs 1 + 2; doc 1 once), and "c" with a zero tf for doc 2.
    const raw: Bm25BlockSource = {
      keys: Uint32Array.of(7, 8, 9),
      bm25: {
        terms: ['b', 'a', 'a', 'c'],
        offsets: Uint32Array.of(0, 1, 3, 4, 6),
        docs: Uint32Array.of(1, 0, 1, 0, 2, 1),
        tfs: Uint32Array.of(2, 1, 1, 2, 0, 4),
        lengths: Uint32Array.of(3, 7, 5),
      },
    };
    const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
    seg.addBlocks([raw]);
    const live: Bm25DocTerms[] = [
      { key: 7, length: 3, terms: new Map([['a', 3]]) },
      {
        key: 8,
        length: 7,
        terms: new Map([
          ['b', 2],
          ['a', 1],
          ['c', 4],
        ]),
      },
      { key: 9, length: 5, terms: new Map() },
    ];
    expectReference(seg, live, ['a', 'b', 'c', 'a b c', 'c c a'], [7, 8, 9]);
    // Sorted but with a term listed twice in a row: still repaired (a lookup would find one of the two).
    const dup: Bm25BlockSource = { keys: [1, 2], bm25: { terms: ['a', 'a', 'b'], offsets: [0, 1, 2, 3], docs: [0, 1, 1], tfs: [1, 3, 1], lengths: [2, 4] } };
    const s2 = new SegmentBm25(DEFAULT_BM25_PARAMS);
    s2.addBlocks([dup]);
    expectReference(
      s2,
      [
        { key: 1, length: 2, terms: new Map([['a', 1]]) },
        {
          key: 2,
          length: 4,
          terms: new Map([
            ['a', 3],
            ['b', 1],
          ]),
        },
      ],
      ['a', 'b', 'a b'],
      [1, 2],
    );
    expect(s2.termsWithPrefix('').sort()).toEqual(['a', 'b']);
    expect(s2.termsWithin('a', 1).sort()).toEqual(['a', 'b']);
  });

  it('stored tfs read in place: fractional ones round, oversized ones clamp to 65535, zero and NaN ones are no posting', () => {
    for (const repaired of [false, true]) {
      // Sorted terms read in place; the same entries with the terms reversed go through the repair.
      const terms2 = ['a', 'b', 'c', 'd', 'e', 'f'];
      const tfs = [2.6, 70000, 0, 0.2, 65535, Number.NaN];
      const order = repaired ? [5, 4, 3, 2, 1, 0] : [0, 1, 2, 3, 4, 5];
      const src: Bm25BlockSource = {
        keys: [3, 4],
        bm25: {
          terms: order.map((i) => terms2[i]),
          offsets: [0, 1, 2, 3, 4, 5, 6],
          docs: order.map((i) => i % 2),
          tfs: order.map((i) => tfs[i]),
          lengths: [10, 12],
        },
      };
      const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
      seg.addBlocks([src]);
      const live: Bm25DocTerms[] = [
        {
          key: 3,
          length: 10,
          terms: new Map([
            ['a', 3],
            ['c', 0],
            ['e', 65535],
          ]),
        },
        {
          key: 4,
          length: 12,
          terms: new Map([
            ['b', 65535],
            ['d', 1],
            ['f', 0],
          ]),
        },
      ];
      expectReference(seg, live, ['a', 'b', 'c', 'd', 'e', 'f', 'a b c d e f'], [3, 4]);
    }
  });

  it('keys: descending within a block and far past the first allocation; the postings come back ascending', () => {
    const docs = [terms(5000, 'x y'), terms(3, 'x'), terms(70_000, 'x z z'), terms(2, 'y')];
    const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
    seg.addBlocks([block(docs)]);
    expect(docs.map((d) => seg.has(d.key))).toEqual([true, true, true, true]);
    expectReference(seg, docs, ['x', 'y', 'z', 'x y z'], [2, 3, 5000, 70_000, 4]);
    expect(Array.from(seg.keysOf('x'))).toEqual([3, 5000, 70_000]);
  });

  it('degenerate corpora score finitely: b = 1 with an empty document, lengths all 0, a length of 2^32 − 1', () => {
    // b = 1: the length norm of an empty document is 0; it matches nothing and scores 0, not 0/0.
    const full = new SegmentBm25({ k1: 1.2, b: 1 });
    const docs = [terms(0, 'a b'), terms(1, ''), terms(2, 'b b c')];
    full.addBlocks([block(docs)]);
    expectReference(full, docs, ['a', 'b', 'a b c'], [0, 1, 2], { k1: 1.2, b: 1 });
    expect(Array.from(full.scoreDocs('a b c', [1]))).toEqual([0]);
    // Stored lengths all 0 (postings without lengths): no length normalisation, finite scores.
    const zero = new SegmentBm25(DEFAULT_BM25_PARAMS);
    zero.addBlocks([{ keys: [0, 1], bm25: { terms: ['a'], offsets: [0, 2], docs: [0, 1], tfs: [1, 2], lengths: [0, 0] } }]);
    expect(zero.avgLength).toBe(0);
    expectReference(
      zero,
      [
        { key: 0, length: 0, terms: new Map([['a', 1]]) },
        { key: 1, length: 0, terms: new Map([['a', 2]]) },
      ],
      ['a'],
      [0, 1],
    );
    // The largest length a uint32 holds is accepted.
    const long = new SegmentBm25(DEFAULT_BM25_PARAMS);
    long.addBlocks([{ keys: [0, 1], bm25: { terms: ['a'], offsets: [0, 1], docs: [0], tfs: [1], lengths: [0xffffffff, 1] } }]);
    expect(long.avgLength).toBe((0xffffffff + 1) / 2);
    expectReference(
      long,
      [
        { key: 0, length: 0xffffffff, terms: new Map([['a', 1]]) },
        { key: 1, length: 1, terms: new Map() },
      ],
      ['a'],
      [0, 1],
    );
  });

  it('k that is not a count gives no hits (and leaves the next search clean)', () => {
    const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const docs = [terms(0, 'a b'), terms(1, 'a'), terms(2, 'b')];
    seg.addBlocks([block(docs)]);
    for (const k of [0, 0.5, -1, Number.NaN]) expect(seg.search('a', k)).toEqual([]);
    expectReference(seg, docs, ['a', 'b', 'a b'], [0, 1, 2]);
    expect(
      seg
        .search('a', Infinity)
        .map((h) => h.key)
        .sort(),
    ).toEqual([0, 1]);
  });

  it('the term dictionary: prefixes and edit distance over every segment, against brute force', () => {
    const seg = new SegmentBm25(DEFAULT_BM25_PARAMS);
    const vocab = ['alpha', 'alps', 'alpine', 'beta', 'bet', 'better', 'zeta', 'a', 'al', 'alp'];
    const docs = vocab.map((w, i) => terms(i, `${w} ${vocab[(i * 3) % vocab.length]}`));
    // Two segments (one of them repaired, the terms reversed) and a dead document: its terms stay in the dictionary.
    seg.addBlocks([block(docs.slice(0, 5), true), block(docs.slice(5))], (k) => k !== 9);
    const lev = (s: string, t: string): number => {
      const d = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array(t.length).fill(0)]);
      for (let j = 1; j <= t.length; j++) d[0][j] = j;
      for (let i = 1; i <= s.length; i++)
        for (let j = 1; j <= t.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
      return d[s.length][t.length];
    };
    const all = [...new Set(vocab)].sort();
    for (const p of ['', 'a', 'al', 'alp', 'alpha', 'alphas', 'b', 'bet', 'c', 'zeta', 'zz'])
      expect(seg.termsWithPrefix(p).sort(), p).toEqual(all.filter((t) => t.startsWith(p)));
    for (const [q, d] of [
      ['alp', 1],
      ['alpha', 2],
      ['bet', 0],
      ['beta', 1],
      ['zzz', 1],
      ['', 1],
    ] as const)
      expect(seg.termsWithin(q, d).sort(), `${q}~${d}`).toEqual(all.filter((t) => lev(q, t) <= d));
    // A new segment brings its terms into the dictionary.
    seg.addBlocks([block([terms(20, 'alpaca')])]);
    expect(seg.termsWithPrefix('alp').sort()).toEqual(['alp', 'alpaca', 'alpha', 'alpine', 'alps']);
    expect(seg.termsWithin('alpaca', 0)).toEqual(['alpaca']);
    expect(Array.from(seg.keysOf('alpaca'))).toEqual([20]);
  });

  afterAll(() =>
    console.log(`segment BM25 vs reference: worst relative error ${worstF32.toExponential(2)} (float32 paths), ${worstF64.toExponential(2)} (matchedTerms)`),
  );
});
