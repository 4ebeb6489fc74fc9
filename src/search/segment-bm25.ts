/**
 * BM25 read straight from the stored segments' postings, Lucene-style: nothing is merged on open.
 * Each segment's BM25 block already holds its postings grouped by term with the terms sorted, so
 * a query term's postings are found by binary search in every segment and gathered into one list
 * (cached per term until the index changes). Opening 100k documents costs a pass over document
 * lengths instead of rebuilding ~5M postings into per-term arrays.
 *
 * The formula is src/rank/bm25.ts's. Scores are exactly those of the in-memory reference engine
 * (bench/bm25-index.ts): the same N, avgdl, df (live postings only), idf, the same float32
 * accumulation in query-term order for search() and the same Math.fround chain in scoreDocs()
 * (the tests compare the two bit for bit).
 *
 * A document belongs to the segment that last added it: replaced or removed documents' postings
 * stay in their old segments but are skipped (owner check), and df counts only live postings.
 */
import { analyzeTerms, cloneableAnalyzerOptions, type AnalyzerOptions } from '../rank/analyzer.ts';
import type { Bm25BlockSource, Bm25Hit, Bm25Params, Bm25SearchOptions } from '../rank/bm25.ts';
import { topKOfAccumulator } from '../rank/topk.ts';
import { indexInSorted } from '../util/sorted.ts';
import { termsWithinSorted } from '../query/levenshtein.ts';
import { bm25ListBound, bm25TermIndex, decodeBm25Into, forEachBm25Positions, forEachBm25Term, forEachBm25TermWithPrefix } from '../store/bm25-postings.ts';
import { codedBlock } from './bm25-coded-block.ts';
import { bm25TopPruned } from './bm25-top.ts';
import type { Bm25Block } from '../store/types.ts';
import type { TermDictionary, WeightedTerm } from '../query/match.ts';
import type { PositionIndex } from '../query/phrase-positions.ts';

/** Cached term posting lists kept at most (cleared whole when full, and on every change). */
const CACHE_TERMS = 20_000;

interface Segment {
  keys: ArrayLike<number>;
  bm25: Bm25Block;
}

/** A stored segment's coded BM25 block (read in place), or a plain postings block (coded when added). */
export type SegmentBm25Source = Bm25BlockSource | { keys: ArrayLike<number>; bm25: Bm25Block };

/** One term's live postings over all segments, keys ascending. */
interface TermPostings {
  keys: Uint32Array;
  tfs: Uint16Array;
  /** max tf / (tf + nA + nB · length) over the postings (bm25-top.ts's bounds), once a pruned search needed it. */
  maxRatio?: number;
}

interface QueryTerm {
  term: string;
  postings: TermPostings;
  /** qtf · idf · (k1 + 1) */
  weight: number;
}

/** Where one term's postings are: segment index and term index within it. */
interface Part {
  s: number;
  t: number;
}

const NONE: TermPostings = { keys: new Uint32Array(0), tfs: new Uint16Array(0) };

/** A query as text (analyzed here, each occurrence counts 1) or as analyzed terms with weights. */
export type Bm25Query = string | readonly WeightedTerm[];

export class SegmentBm25 implements TermDictionary, PositionIndex {
  readonly params: Readonly<Bm25Params>;
  readonly analyzerOptions: Readonly<AnalyzerOptions>;

  private readonly segs: Segment[] = [];
  /** key → index of the segment holding its live postings, −1 when not indexed. */
  private owner = new Int32Array(0).fill(-1);
  private lengths = new Uint32Array(0);
  private docs = 0;
  private totalLength = 0;
  private cache = new Map<string, TermPostings>();
  /** Distinct terms of every segment, ascending (fuzzy expansion), built on first use. */
  private dictionary: string[] | null = null;
  // Search scratch indexed by key; reset after each search (touched entries only).
  private scores = new Float32Array(0);
  private touched = new Uint32Array(0);

  constructor(params: Bm25Params, analyzerOpts?: AnalyzerOptions) {
    this.params = Object.freeze({ k1: params.k1, b: params.b });
    this.analyzerOptions = Object.freeze(cloneableAnalyzerOptions(analyzerOpts));
  }

  get size(): number {
    return this.docs;
  }

  get avgLength(): number {
    return this.docs === 0 ? 0 : this.totalLength / this.docs;
  }

  has(key: number): boolean {
    return key >= 0 && key < this.owner.length && this.owner[key] >= 0;
  }

  /** Document frequency of an (already analyzed) term among live documents. */
  docFreq(term: string): number {
    return this.postingsOf(term).keys.length;
  }

  /**
   * Adds segments (their documents, except those `alive` rejects); a key already present is
   * replaced. O(documents) for stored (coded) blocks: postings are only read when a query needs them.
   */
  addBlocks(sources: readonly SegmentBm25Source[], alive?: (key: number) => boolean): void {
    for (const src of sources) {
      const s = this.segs.length;
      const seg: Segment = { keys: src.keys, bm25: 'postings' in src.bm25 ? src.bm25 : codedBlock(src.bm25) };
      this.segs.push(seg);
      const { keys } = seg;
      // A coded block's lengths are a Uint32Array (codedBlock checked a plain block's values): only their count can be wrong.
      const lengths = seg.bm25.lengths;
      if (lengths.length !== keys.length) throw new RangeError(`BM25: ${lengths.length} document lengths for ${keys.length} documents`);
      let max = -1;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new RangeError(`BM25: key must be a uint32, got ${key}`);
        if (key > max) max = key;
      }
      this.ensureKeys(max + 1);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        if (alive && !alive(key)) continue;
        const length = lengths[i];
        if (this.owner[key] >= 0) this.remove(key);
        this.owner[key] = s;
        this.lengths[key] = length;
        this.totalLength += length;
        this.docs++;
      }
    }
    this.cache.clear();
    this.dictionary = null;
  }

  remove(key: number): void {
    if (!this.has(key)) return;
    this.owner[key] = -1;
    this.totalLength -= this.lengths[key];
    this.lengths[key] = 0;
    this.docs--;
    this.cache.clear(); // df changed
  }

  /**
   * The top k by BM25. Pruned (bm25-top.ts) for queries of several terms unless `exhaustive`; the same hits
   * and scores either way.
   */
  search(query: Bm25Query, k: number, opts?: Bm25SearchOptions, exhaustive = false): Bm25Hit[] {
    const qterms = this.queryTerms(query);
    if (qterms.length === 0 || !(k >= 1)) return [];
    const { scores, touched, lengths } = this;
    const { nA, nB } = this.normConstants();
    if (!exhaustive && qterms.length > 1) {
      const terms = qterms.map(({ postings, weight }) => ({ keys: postings.keys, tfs: postings.tfs, weight, maxRatio: this.maxRatio(postings, nA, nB) }));
      return bm25TopPruned(terms, lengths, nA, nB, Math.floor(k), opts?.filter);
    }
    let nt = 0;
    for (const q of qterms) {
      const { keys, tfs } = q.postings;
      const w = q.weight;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const tf = tfs[i];
        if (scores[key] === 0) touched[nt++] = key; // contributions are > 0, so 0 = untouched
        scores[key] += (w * tf) / (tf + nA + nB * lengths[key]);
      }
    }
    return topKOfAccumulator(scores, touched, nt, k, opts?.filter);
  }

  /** BM25 scores of the given candidates (0 for unknown keys or no match), same values as search(). */
  scoreDocs(query: Bm25Query, keys: ArrayLike<number>): Float64Array {
    const out = new Float64Array(keys.length);
    const qterms = this.queryTerms(query);
    if (qterms.length === 0) return out;
    const { nA, nB } = this.normConstants();
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j];
      if (!this.has(key)) continue;
      const len = this.lengths[key];
      let acc = 0;
      for (const q of qterms) {
        const tf = tfOf(q.postings, key);
        if (tf !== 0) acc = Math.fround(acc + (q.weight * tf) / (tf + nA + nB * len));
      }
      out[j] = acc;
    }
    return out;
  }

  /** Query terms found in the document with their score contributions, in query order. */
  matchedTerms(query: Bm25Query, key: number): { term: string; weight: number }[] {
    const out: { term: string; weight: number }[] = [];
    if (!this.has(key)) return out;
    const { nA, nB } = this.normConstants();
    const len = this.lengths[key];
    for (const q of this.queryTerms(query)) {
      const tf = tfOf(q.postings, key);
      if (tf !== 0) out.push({ term: q.term, weight: (q.weight * tf) / (tf + nA + nB * len) });
    }
    return out;
  }

  // ---- term dictionary (Boolean queries: src/query/match.ts) ----

  keysOf(term: string): Uint32Array {
    return this.postingsOf(term).keys;
  }

  /**
   * Distinct terms starting with `prefix`: a binary-searched range of each segment's sorted terms (read in place). The
   * range also says where each term's postings are, so they are gathered (and cached) here: a 3-letter
   * prefix expands to ~200 terms over ~100 segments at 100k documents, and looking each one up again
   * (one binary search per term and segment) cost more than the whole query.
   */
  termsWithPrefix(prefix: string): string[] {
    const parts = new Map<string, Part[]>();
    for (let s = 0; s < this.segs.length; s++) {
      forEachBm25TermWithPrefix(this.segs[s].bm25, prefix, (term, t) => {
        const list = parts.get(term);
        if (list) list.push({ s, t });
        else parts.set(term, [{ s, t }]);
      });
    }
    for (const [term, list] of parts) if (!this.cache.has(term)) this.cachePostings(term, this.gather(list));
    return [...parts.keys()];
  }

  /** Distinct terms within `distance` edits: a Levenshtein walk over the merged sorted dictionary. */
  termsWithin(term: string, distance: number): string[] {
    if (!this.dictionary) {
      const all = new Set<string>();
      for (const { bm25 } of this.segs) forEachBm25Term(bm25, (t) => all.add(t));
      this.dictionary = [...all].sort();
    }
    return termsWithinSorted(this.dictionary, term, distance);
  }

  // ---- term positions (phrases: src/query/phrase-positions.ts) ----

  positionsStored(key: number): boolean {
    return this.has(key) && this.segs[this.owner[key]].bm25.positions === true;
  }

  forEachPositions(term: string, indexOf: (key: number) => number, fn: (i: number, positions: Uint32Array, count: number) => void): void {
    const owner = this.owner;
    for (let s = 0; s < this.segs.length; s++) {
      const { keys, bm25 } = this.segs[s];
      if (!bm25.positions) continue;
      const t = bm25TermIndex(bm25, term);
      if (t < 0) continue;
      let i = -1;
      forEachBm25Positions(
        bm25,
        t,
        (doc) => owner[keys[doc]] === s && (i = indexOf(keys[doc])) >= 0,
        (_, positions, count) => fn(i, positions, count),
      );
    }
  }

  // ---- internals ----

  private maxRatio(p: TermPostings, nA: number, nB: number): number {
    if (p.maxRatio !== undefined) return p.maxRatio;
    const { keys, tfs } = p;
    let max = 0;
    for (let i = 0; i < keys.length; i++) {
      const tf = tfs[i];
      const r = tf / (tf + nA + nB * this.lengths[keys[i]]);
      if (r > max) max = r;
    }
    p.maxRatio = max;
    return max;
  }

  private normConstants(): { nA: number; nB: number } {
    const { k1, b } = this.params;
    const avg = this.avgLength;
    return { nA: k1 * (1 - b), nB: avg > 0 ? (k1 * b) / avg : 0 };
  }

  private queryTerms(query: Bm25Query): QueryTerm[] {
    const counts = new Map<string, number>();
    const order: string[] = [];
    const found = new Map<string, TermPostings>();
    const add = (t: string, w: number) => {
      let p = found.get(t);
      if (p === undefined) {
        p = this.postingsOf(t);
        found.set(t, p);
      }
      if (p.keys.length === 0 || !(w > 0)) return;
      const c = counts.get(t);
      if (c === undefined) order.push(t);
      counts.set(t, (c ?? 0) + w);
    };
    if (typeof query === 'string') for (const t of analyzeTerms(query, this.analyzerOptions)) add(t, 1);
    else for (const { term, weight } of query) add(term, weight);
    const N = this.docs;
    const k1p1 = this.params.k1 + 1;
    return order.map((term) => {
      const postings = found.get(term)!;
      const df = postings.keys.length;
      return { term, postings, weight: counts.get(term)! * Math.log(1 + (N - df + 0.5) / (df + 0.5)) * k1p1 };
    });
  }

  /** The term's live postings over every segment (cached until the index changes). */
  private postingsOf(term: string): TermPostings {
    const hit = this.cache.get(term);
    if (hit) return hit;
    const parts: Part[] = [];
    for (let s = 0; s < this.segs.length; s++) {
      const t = bm25TermIndex(this.segs[s].bm25, term);
      if (t >= 0) parts.push({ s, t });
    }
    return this.cachePostings(term, this.gather(parts));
  }

  private cachePostings(term: string, p: TermPostings): TermPostings {
    if (this.cache.size >= CACHE_TERMS) this.cache.clear();
    this.cache.set(term, p);
    return p;
  }

  /** One term's live postings from its list in each segment (`parts`, segments ascending). */
  private gather(parts: readonly Part[]): TermPostings {
    if (parts.length === 0) return NONE;
    let total = 0;
    let bytes = 0;
    for (const { s, t } of parts) {
      const b = bm25ListBound(this.segs[s].bm25, t); // ≥ its posting count
      total += b;
      if (b > bytes) bytes = b;
    }
    const keys = new Uint32Array(total);
    const tfs = new Uint16Array(total);
    const segDocs = new Uint32Array(bytes);
    const segTfs = new Uint32Array(bytes);
    const owner = this.owner;
    let n = 0;
    let ascending = true;
    for (const { s, t } of parts) {
      const { keys: segKeys, bm25 } = this.segs[s];
      const m = decodeBm25Into(bm25, t, segDocs, segTfs, 0);
      for (let e = 0; e < m; e++) {
        const key = segKeys[segDocs[e]];
        const tf = segTfs[e];
        if (owner[key] !== s || tf === 0) continue;
        if (n > 0 && keys[n - 1] >= key) ascending = false;
        keys[n] = key;
        tfs[n++] = tf;
      }
    }
    if (n === 0) return NONE;
    return ascending ? { keys: keys.subarray(0, n), tfs: tfs.subarray(0, n) } : sortByKey(keys.subarray(0, n), tfs.subarray(0, n));
  }

  private ensureKeys(n: number): void {
    if (n <= this.owner.length) return;
    const cap = Math.max(n, Math.min(this.owner.length * 2, 0x100000000), 1024);
    const owner = new Int32Array(cap).fill(-1);
    owner.set(this.owner);
    this.owner = owner;
    const lengths = new Uint32Array(cap);
    lengths.set(this.lengths);
    this.lengths = lengths;
    this.scores = new Float32Array(cap); // all zero between searches
    this.touched = new Uint32Array(cap);
  }
}

/** A key's tf in ascending postings; 0 when absent. */
function tfOf(p: TermPostings, key: number): number {
  const i = indexInSorted(p.keys, key);
  return i < 0 ? 0 : p.tfs[i];
}

function sortByKey(keys: Uint32Array, tfs: Uint16Array): TermPostings {
  const idx = Array.from({ length: keys.length }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
  return { keys: Uint32Array.from(idx, (i) => keys[i]), tfs: Uint16Array.from(idx, (i) => tfs[i]) };
}
