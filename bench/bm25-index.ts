/**
 * Bm25Index: an incremental in-memory BM25 engine over documents identified by dense uint32 keys. It is
 * not the library's engine (that is SegmentBm25, which reads the stored segments' postings in place): it
 * stays here as the reference the segment engine is tested against bit for bit, for the BM25 timing
 * script (scripts/bench-bm25.ts) and for the Cranfield evaluation of analyzer options.
 *
 * Scoring: see src/rank/bm25.ts. Layout: one Uint32Array per term holding interleaved [key, tf] pairs
 * sorted by key (one typed array per term, not per posting; sorted so remove() finds a posting by binary
 * search), doc lengths in a Uint32Array indexed by key, and a forward map key → [termId, tf]* so remove()
 * knows which lists to touch. Search is term-at-a-time into a Float32Array over keys, then a bounded heap
 * over the touched keys only.
 *
 * Scores are accumulated in float32 (the buffer's precision); scoreDocs() rounds the same way
 * (Math.fround after each term, in query order), so both return bit-identical scores.
 *
 * toSnapshot()/fromSnapshot(): a compact structured-cloneable form of the whole index. Nothing in the
 * library stores it (segments carry their own postings); the timing script measures it.
 */
import { analyzeTerms, cloneableAnalyzerOptions, type AnalyzerOptions } from '../src/rank/analyzer.ts';
import { DEFAULT_BM25_PARAMS, type Bm25DocTerms, type Bm25Hit, type Bm25Params, type Bm25SearchOptions } from '../src/rank/bm25.ts';
import { topKOfAccumulator } from '../src/rank/topk.ts';

/**
 * Compact, structured-cloneable, JSON-free snapshot of a whole Bm25Index.
 * Terms: all terms concatenated and UTF-8 encoded in `termBytes`; `termOffsets` (length T+1)
 * are UTF-16 offsets into the decoded string. Postings in CSR form: term i owns
 * postingKeys/postingTfs[postingOffsets[i] .. postingOffsets[i+1]), keys ascending.
 */
export interface Bm25Snapshot {
  format: 'm3-search/bm25';
  version: 1;
  params: Bm25Params;
  analyzer: AnalyzerOptions;
  termBytes: Uint8Array;
  termOffsets: Uint32Array;
  postingOffsets: Uint32Array;
  postingKeys: Uint32Array;
  postingTfs: Uint16Array;
  /** Documents, keys ascending, with their lengths. */
  docKeys: Uint32Array;
  docLengths: Uint32Array;
}

/** tf is stored as uint16; BM25 saturates long before (tf=65535 vs ∞ differ by < 2e-5 relative). */
const MAX_TF = 0xffff;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new RangeError(`BM25: key must be a uint32, got ${key}`);
}

function resolveParams(p: Partial<Bm25Params> | undefined, base: Bm25Params): Bm25Params {
  const k1 = p?.k1 ?? base.k1;
  const b = p?.b ?? base.b;
  if (!(k1 >= 0) || !Number.isFinite(k1)) throw new RangeError(`BM25: k1 must be finite and >= 0, got ${k1}`);
  if (!(b >= 0 && b <= 1)) throw new RangeError(`BM25: b must be in [0, 1], got ${b}`);
  return { k1, b };
}

/** First index i in [0, n) with pairs[2i] >= key (pairs = interleaved [key, value]). */
function lowerBound(pairs: Uint32Array, n: number, key: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pairs[2 * mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface QueryTerm {
  id: number;
  term: string;
  /** qtf · idf · (k1 + 1) */
  weight: number;
}

export class Bm25Index {
  readonly params: Readonly<Bm25Params>;
  readonly analyzerOptions: Readonly<AnalyzerOptions>;

  private termIds = new Map<string, number>();
  private terms: string[] = [];
  /** Per term: interleaved [key, tf] pairs, keys ascending; capacity grows by doubling. */
  private postings: Uint32Array[] = [];
  /** Per term: number of postings (document frequency). */
  private df: number[] = [];
  /** key → interleaved [termId, tf] pairs of that document. */
  private forward = new Map<number, Uint32Array>();
  private lengths = new Uint32Array(0);
  private totalLength = 0;
  // Search scratch, indexed by key; reset after each search (only the touched entries).
  private scores = new Float32Array(0);
  private touched = new Uint32Array(0);

  constructor(params?: Partial<Bm25Params>, analyzerOpts?: AnalyzerOptions) {
    this.params = Object.freeze(resolveParams(params, DEFAULT_BM25_PARAMS));
    this.analyzerOptions = Object.freeze(cloneableAnalyzerOptions(analyzerOpts));
  }

  /** Number of documents. */
  get size(): number {
    return this.forward.size;
  }

  get avgLength(): number {
    return this.forward.size === 0 ? 0 : this.totalLength / this.forward.size;
  }

  /** Number of distinct terms with at least one posting. */
  get vocabularySize(): number {
    let n = 0;
    for (const d of this.df) if (d > 0) n++;
    return n;
  }

  has(key: number): boolean {
    return this.forward.has(key);
  }

  /** Document frequency of an (already analyzed) term. */
  docFreq(term: string): number {
    const id = this.termIds.get(term);
    return id === undefined ? 0 : this.df[id];
  }

  /** Lucene idf of an (already analyzed) term; 0 for unknown terms. */
  idf(term: string): number {
    const df = this.docFreq(term);
    return df === 0 ? 0 : this.idfOf(df);
  }

  /** Adds a document; an existing document with the same key is replaced. */
  add(doc: Bm25DocTerms): void {
    const key = doc.key;
    checkKey(key);
    const length = doc.length;
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new RangeError(`BM25: bad length ${length}`);
    if (this.forward.has(key)) this.remove(key);

    const pairs: number[] = [];
    for (const [rawTerm, rawTf] of doc.terms) {
      if (!(rawTf > 0)) continue;
      const tf = Math.min(MAX_TF, Math.max(1, Math.round(rawTf)));
      let id = this.termIds.get(rawTerm);
      if (id === undefined) {
        // Terms must survive the UTF-8 snapshot unchanged; the analyzer never yields lone
        // surrogates, but a hand-built Bm25DocTerms might.
        const term = rawTerm.replace(LONE_SURROGATE, '\ufffd');
        id = this.termIds.get(term);
        if (id === undefined) {
          id = this.terms.length;
          this.terms.push(term);
          this.termIds.set(term, id);
          this.postings.push(new Uint32Array(8));
          this.df.push(0);
        }
      }
      pairs.push(id, tf);
    }
    // Merge duplicates (two raw terms that sanitise to the same one) and sort by term id.
    const fwd = this.packForward(pairs);
    for (let i = 0; i < fwd.length; i += 2) this.insertPosting(fwd[i], key, fwd[i + 1]);
    this.forward.set(key, fwd);
    this.ensureKeyCapacity(key + 1);
    this.lengths[key] = length;
    this.totalLength += length;
  }

  remove(key: number): void {
    const fwd = this.forward.get(key);
    if (fwd === undefined) return;
    for (let i = 0; i < fwd.length; i += 2) {
      const id = fwd[i];
      const p = this.postings[id];
      const n = this.df[id];
      const at = lowerBound(p, n, key);
      if (at < n && p[2 * at] === key) {
        p.copyWithin(2 * at, 2 * at + 2, 2 * n);
        this.df[id] = n - 1;
      }
    }
    this.forward.delete(key);
    this.totalLength -= this.lengths[key];
    this.lengths[key] = 0;
  }

  search(query: string, k: number, opts?: Bm25SearchOptions): Bm25Hit[] {
    const qterms = this.queryTerms(query);
    if (qterms.length === 0 || !(k >= 1)) return [];
    const { scores, touched, lengths, postings, df } = this;
    const { nA, nB } = this.normConstants();
    let nt = 0;
    for (const q of qterms) {
      const p = postings[q.id];
      const end = 2 * df[q.id];
      const w = q.weight;
      for (let i = 0; i < end; i += 2) {
        const key = p[i];
        const tf = p[i + 1];
        if (scores[key] === 0) touched[nt++] = key; // contributions are > 0, so 0 = untouched
        scores[key] += (w * tf) / (tf + nA + nB * lengths[key]);
      }
    }
    return topKOfAccumulator(scores, touched, nt, k, opts?.filter);
  }

  /** BM25 scores of the given candidates (0 for unknown keys or no match), same values as search(). */
  scoreDocs(query: string, keys: ArrayLike<number>): Float64Array {
    const out = new Float64Array(keys.length);
    const qterms = this.queryTerms(query);
    if (qterms.length === 0) return out;
    const { nA, nB } = this.normConstants();
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j];
      if (!this.forward.has(key)) continue;
      const len = this.lengths[key];
      let acc = 0;
      for (const q of qterms) {
        const tf = this.tfOf(q.id, key);
        if (tf !== 0) acc = Math.fround(acc + (q.weight * tf) / (tf + nA + nB * len));
      }
      out[j] = acc;
    }
    return out;
  }

  /** Query terms found in the document with their score contributions, in query order. */
  matchedTerms(query: string, key: number): { term: string; weight: number }[] {
    const out: { term: string; weight: number }[] = [];
    if (!this.forward.has(key)) return out;
    const { nA, nB } = this.normConstants();
    const len = this.lengths[key];
    for (const q of this.queryTerms(query)) {
      const tf = this.tfOf(q.id, key);
      if (tf !== 0) out.push({ term: q.term, weight: (q.weight * tf) / (tf + nA + nB * len) });
    }
    return out;
  }

  toSnapshot(): Bm25Snapshot {
    // Terms without postings (all their documents removed) are dropped here; term ids are
    // internal, so the restored index renumbers densely.
    const live: number[] = [];
    let total = 0;
    for (let id = 0; id < this.terms.length; id++) {
      if (this.df[id] > 0) {
        live.push(id);
        total += this.df[id];
      }
    }
    const termOffsets = new Uint32Array(live.length + 1);
    const postingOffsets = new Uint32Array(live.length + 1);
    const postingKeys = new Uint32Array(total);
    const postingTfs = new Uint16Array(total);
    const parts: string[] = new Array(live.length);
    let chars = 0;
    let at = 0;
    for (let i = 0; i < live.length; i++) {
      const id = live[i];
      const term = this.terms[id];
      parts[i] = term;
      chars += term.length;
      termOffsets[i + 1] = chars;
      const p = this.postings[id];
      const n = this.df[id];
      for (let j = 0; j < n; j++) {
        postingKeys[at] = p[2 * j];
        postingTfs[at] = p[2 * j + 1];
        at++;
      }
      postingOffsets[i + 1] = at;
    }
    const docKeys = Uint32Array.from(this.forward.keys()).sort();
    const docLengths = new Uint32Array(docKeys.length);
    for (let i = 0; i < docKeys.length; i++) docLengths[i] = this.lengths[docKeys[i]];
    return {
      format: 'm3-search/bm25',
      version: 1,
      params: { k1: this.params.k1, b: this.params.b },
      analyzer: cloneableAnalyzerOptions(this.analyzerOptions),
      termBytes: new TextEncoder().encode(parts.join('')),
      termOffsets,
      postingOffsets,
      postingKeys,
      postingTfs,
      docKeys,
      docLengths,
    };
  }

  /**
   * Restores an index. params/analyzerOpts default to those stored in the snapshot; pass them only
   * to override (different analyzer options than at indexing time will hurt matching).
   */
  static fromSnapshot(s: Bm25Snapshot, params?: Partial<Bm25Params>, analyzerOpts?: AnalyzerOptions): Bm25Index {
    if (s?.format !== 'm3-search/bm25' || s.version !== 1) throw new Error('BM25: not a version-1 BM25 snapshot');
    const T = s.termOffsets.length - 1;
    if (s.postingOffsets.length !== T + 1 || s.postingKeys.length !== s.postingTfs.length || s.docKeys.length !== s.docLengths.length) {
      throw new Error('BM25: inconsistent snapshot arrays');
    }
    const idx = new Bm25Index(resolveParams(params, s.params), analyzerOpts ?? s.analyzer);
    const all = new TextDecoder().decode(s.termBytes);
    if (T > 0 && s.termOffsets[T] !== all.length) throw new Error('BM25: term dictionary does not match its offsets');

    let maxKey = -1;
    for (let i = 0; i < s.docKeys.length; i++) if (s.docKeys[i] > maxKey) maxKey = s.docKeys[i];
    idx.ensureKeyCapacity(maxKey + 1);

    // Forward entries: count per doc, then fill one shared pool (views into it, one per doc).
    const slot = new Int32Array(maxKey + 1).fill(-1); // key → document index (keys are dense)
    for (let i = 0; i < s.docKeys.length; i++) {
      const key = s.docKeys[i];
      if (slot[key] !== -1) throw new Error(`BM25: document ${key} appears twice`);
      slot[key] = i;
      idx.lengths[key] = s.docLengths[i];
      idx.totalLength += s.docLengths[i];
    }
    const counts = new Uint32Array(s.docKeys.length + 1);
    for (let j = 0; j < s.postingKeys.length; j++) {
      const k = s.postingKeys[j];
      const d = k < slot.length ? slot[k] : -1;
      if (d < 0) throw new Error(`BM25: posting for unknown document ${s.postingKeys[j]}`);
      counts[d + 1]++;
    }
    for (let i = 1; i < counts.length; i++) counts[i] += counts[i - 1];
    const pool = new Uint32Array(2 * s.postingKeys.length);
    const fill = counts.slice(0, s.docKeys.length);

    for (let t = 0; t < T; t++) {
      const term = all.slice(s.termOffsets[t], s.termOffsets[t + 1]);
      const from = s.postingOffsets[t];
      const to = s.postingOffsets[t + 1];
      const n = to - from;
      const p = new Uint32Array(Math.max(8, 2 * n));
      for (let j = 0; j < n; j++) {
        const key = s.postingKeys[from + j];
        const tf = s.postingTfs[from + j];
        if (j > 0 && key <= p[2 * j - 2]) throw new Error(`BM25: postings of term ${t} are not in key order`);
        p[2 * j] = key;
        p[2 * j + 1] = tf;
        const d = slot[key];
        const w = 2 * fill[d]++;
        pool[w] = t;
        pool[w + 1] = tf;
      }
      idx.termIds.set(term, t);
      idx.terms.push(term);
      idx.postings.push(p);
      idx.df.push(n);
    }
    // Terms were visited in id order, so each forward entry is already sorted by term id.
    for (let i = 0; i < s.docKeys.length; i++) {
      idx.forward.set(s.docKeys[i], pool.subarray(2 * counts[i], 2 * counts[i + 1]));
    }
    return idx;
  }

  // ---- internals ----

  private idfOf(df: number): number {
    const N = this.forward.size;
    return Math.log(1 + (N - df + 0.5) / (df + 0.5));
  }

  /** tf + k1·(1 − b + b·len/avgdl) = tf + nA + nB·len */
  private normConstants(): { nA: number; nB: number } {
    const { k1, b } = this.params;
    const avg = this.avgLength;
    return { nA: k1 * (1 - b), nB: avg > 0 ? (k1 * b) / avg : 0 };
  }

  /** Analyzed, known query terms with their weights; repeated terms are merged into qtf. */
  private queryTerms(query: string): QueryTerm[] {
    const counts = new Map<number, number>();
    const order: number[] = [];
    for (const t of analyzeTerms(query, this.analyzerOptions)) {
      const id = this.termIds.get(t);
      if (id === undefined || this.df[id] === 0) continue;
      const c = counts.get(id);
      if (c === undefined) order.push(id);
      counts.set(id, (c ?? 0) + 1);
    }
    const k1p1 = this.params.k1 + 1;
    return order.map((id) => ({ id, term: this.terms[id], weight: counts.get(id)! * this.idfOf(this.df[id]) * k1p1 }));
  }

  private tfOf(termId: number, key: number): number {
    const p = this.postings[termId];
    const n = this.df[termId];
    const at = lowerBound(p, n, key);
    return at < n && p[2 * at] === key ? p[2 * at + 1] : 0;
  }

  private packForward(pairs: number[]): Uint32Array {
    const n = pairs.length / 2;
    const order = new Array<number>(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => pairs[2 * a] - pairs[2 * b]);
    const out: number[] = [];
    for (const i of order) {
      const id = pairs[2 * i];
      const tf = pairs[2 * i + 1];
      if (out.length > 0 && out[out.length - 2] === id) out[out.length - 1] = Math.min(MAX_TF, out[out.length - 1] + tf);
      else out.push(id, tf);
    }
    return Uint32Array.from(out);
  }

  private insertPosting(id: number, key: number, tf: number): void {
    let p = this.postings[id];
    const n = this.df[id];
    if (2 * n + 2 > p.length) {
      const grown = new Uint32Array(Math.max(8, p.length * 2));
      grown.set(p.subarray(0, 2 * n));
      this.postings[id] = p = grown;
    }
    // Keys usually arrive ascending: append without searching.
    const at = n === 0 || p[2 * n - 2] < key ? n : lowerBound(p, n, key);
    if (at < n) p.copyWithin(2 * at + 2, 2 * at, 2 * n);
    p[2 * at] = key;
    p[2 * at + 1] = tf;
    this.df[id] = n + 1;
  }

  private ensureKeyCapacity(n: number): void {
    if (n <= this.lengths.length) return;
    const cap = Math.max(n, Math.min(this.lengths.length * 2, 0x100000000), 1024);
    const lengths = new Uint32Array(cap);
    lengths.set(this.lengths);
    this.lengths = lengths;
    this.scores = new Float32Array(cap); // all zero between searches
    this.touched = new Uint32Array(cap);
  }
}
