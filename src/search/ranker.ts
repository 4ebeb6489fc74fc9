/**
 * One search over a LiveIndex: per-signal candidate lists (top-N each), exact per-signal scores for
 * the union of candidates, fusion, optional ColBERT rerank, top-k. Synchronous and store-free.
 */
import type { M3Embedding } from '../encoder/types.ts';
import { TopK } from '../rank/topk.ts';
import type { MaxSimScorer, PreparedColbertQuery } from './colbert.ts';
import { colbertScoring } from './colbert-loading.ts';
import type { DocPredicate } from './filter.ts';
import { fuse, type SignalColumn } from './fusion.ts';
import type { LiveIndex } from './live-index.ts';
import type { Bm25Query } from './segment-bm25.ts';
import { SparseAccumulator } from './sparse-scan.ts';
import { SparseTop } from './sparse-top.ts';
import type { FusionMode, PassageAggregate, SearchMode, SignalName, SignalScore, SignalWeights } from './types.ts';

export interface RankRequest {
  text: string | undefined;
  embedding: M3Embedding | undefined;
  k: number;
  mode: SearchMode;
  fusion: FusionMode;
  weights: Required<SignalWeights>;
  candidates: number;
  rerank: { topN: number } | null;
  filter: DocPredicate | null;
  aggregate: PassageAggregate;
  /** Dense first stage and rescoring depth (DenseMatrix.search); defaults when absent. */
  dense?: { firstStage?: 'binary' | 'int8'; rescore?: number; refine?: boolean };
  /**
   * A Boolean query's outcome (src/query): the documents that satisfy it (ascending keys; only these can
   * be hits) and the weighted terms BM25 ranks by instead of `text`.
   */
  constraint?: { keys: Uint32Array; bm25: Bm25Query } | null;
}

/**
 * BM25 scores the allowed documents one by one (a binary search per term and document) when that is
 * cheaper than walking the terms' postings: allowed × terms × this < postings.
 */
const DIRECT_BM25_COST = 12;

export interface RankedHit {
  key: number;
  score: number;
  signals: Partial<Record<SignalName, SignalScore>>;
}

/** A signal's own top-N: keys best-first with their scores. */
interface Ranked {
  keys: number[];
  scores: number[];
}

export class Ranker {
  private readonly sparseAcc = new SparseAccumulator();
  private readonly sparseTopN = new SparseTop();
  /**
   * Sparse and BM25 top-N by MaxScore pruning (sparse-top.ts, bm25-top.ts; sparse where each document is one
   * row); false: the exhaustive term-at-a-time scans (the reference the tests and bench/query-cpu.ts compare with).
   */
  pruning = true;
  /** The last pruned sparse run's exact scores by key (its top-N and the keys it was asked to score). */
  private sparseScores: Map<number, number> | null = null;
  private keyScore = new Float32Array(0);
  private keySeen = new Uint8Array(0);
  private maxSim: MaxSimScorer | null = null;
  /** The ColBERT query quantised once per search (per dims), and whether the scorer holds it. */
  private colbertQ: { src: Float32Array; dims: number; prepared: PreparedColbertQuery } | null = null;

  constructor(private readonly live: LiveIndex) {}

  rank(req: RankRequest): RankedHit[] {
    this.colbertQ = null; // the caller may reuse (and mutate) a query array between searches
    const live = this.live;
    const emb = req.embedding;
    const keyMask = this.keyMask(req);
    // Hybrid fuses each signal's top-N; a single signal needs only its top-k (or the rerank pool).
    const N = req.mode === 'hybrid' ? Math.max(req.candidates, req.k) : Math.max(req.k, req.rerank?.topN ?? 0);

    const want = wantedSignals(req, live);
    const lists = new Map<SignalName, Ranked>();
    let sparseTouched = false;
    const dense = want.has('dense') ? this.denseTop(emb!.dense!, N, keyMask, req.aggregate, req.dense) : null;
    // BM25 before sparse: a pruned sparse scan must also score the other lists' keys (hybrid's candidates).
    const bm25 = want.has('bm25') ? this.bm25Top(req, N, keyMask) : null;
    if (dense) lists.set('dense', dense);
    if (want.has('sparse')) {
      const others = req.mode === 'hybrid' ? [...(dense?.keys ?? []), ...(bm25?.keys ?? [])] : [];
      lists.set('sparse', this.sparseTop(emb!.sparse!, N, keyMask, req.aggregate, others));
      sparseTouched = true;
    }
    if (bm25) lists.set('bm25', bm25);
    if (req.mode === 'colbert') lists.set('colbert', this.colbertTop(emb!.colbert!, N, keyMask, req.aggregate));

    // Candidates: union of the lists, in first-seen order.
    const cand: number[] = [];
    const seen = new Set<number>();
    for (const l of lists.values()) for (const k of l.keys) if (!seen.has(k)) seen.add(k), cand.push(k);

    // Signals scored for every candidate: the listed ones, plus ColBERT in hybrid when stored and weighted —
    // unless a rerank follows: then ColBERT scores only the top-N it re-fuses (the first stage picks them
    // without it, as M3's retrieve-then-rerank does), not every candidate of the union.
    const scored: SignalName[] = [...lists.keys()];
    if (req.mode === 'hybrid' && want.has('colbert') && !req.rerank) scored.push('colbert');
    const single = req.mode !== 'hybrid';
    const columns: SignalColumn[] = scored.map((name) => ({
      name,
      weight: req.weights[name],
      // A single signal's list already holds the exact scores of its candidates.
      scores: single ? lists.get(name)!.scores : this.exactScores(name, cand, req, sparseTouched),
      ranks: ranksOf(lists.get(name), cand),
    }));
    let fused = req.mode === 'hybrid' ? fuse(req.fusion, columns, cand.length) : Float64Array.from(columns[0]?.scores ?? []);

    if (req.rerank) {
      if (!live.hasColbert) throw new Error('ColBERT rerank needs stored ColBERT vectors: open the index with { colbert: true } and add documents');
      if (!emb?.colbert) throw new Error("ColBERT rerank needs the query's ColBERT vectors (an encoder with a ColBERT head, or embedding.colbert)");
      const top = topOf(cand, fused, Math.min(req.rerank.topN, cand.length));
      const sub = top.map((t) => t.key);
      const at = positionsIn(cand);
      const idx = top.map((t) => at.get(t.key)!);
      const cols: SignalColumn[] = columns
        .filter((c) => c.name !== 'colbert')
        .map((c) => ({ ...c, scores: idx.map((i) => c.scores[i]), ranks: idx.map((i) => c.ranks[i]) }));
      const cscores = this.exactScores('colbert', sub, req, sparseTouched);
      cols.push({ name: 'colbert', weight: req.weights.colbert, scores: cscores, ranks: ranksOf(rankedBy(sub, cscores), sub) });
      fused = fuse(req.fusion, cols, sub.length);
      return this.hits(sub, fused, cols, req.k);
    }
    return this.hits(cand, fused, columns, req.k);
  }

  private hits(cand: number[], fused: ArrayLike<number>, columns: SignalColumn[], k: number): RankedHit[] {
    const top = topOf(cand, fused, k);
    // A map, not cand.indexOf per hit: phrase checks rank with k in the tens of thousands (quadratic before).
    const at = positionsIn(cand);
    return top.map(({ key, score }) => {
      const i = at.get(key)!;
      const signals: RankedHit['signals'] = {};
      for (const c of columns) signals[c.name] = { score: c.scores[i], rank: c.ranks[i] || null };
      return { key, score, signals };
    });
  }

  /** 1 for the keys a search may return (metadata filter and Boolean constraint), or null for all. */
  private keyMask(req: RankRequest): Uint8Array | null {
    const live = this.live;
    const pred = req.filter;
    const c = req.constraint;
    if (!pred && !c) return null;
    const mask = new Uint8Array(live.keyCapacity);
    if (c) {
      for (const key of c.keys) if (!pred || pred(live.keyMeta[key] ?? undefined, live.keyId[key]!)) mask[key] = 1;
      return mask;
    }
    for (const [id, key] of live.idToKey) if (pred!(live.keyMeta[key] ?? undefined, id)) mask[key] = 1;
    return mask;
  }

  private bm25Top(req: RankRequest, N: number, keyMask: Uint8Array | null): Ranked {
    const bm25 = this.live.bm25!;
    const q = req.constraint?.bm25 ?? req.text!;
    const allowed = req.constraint?.keys;
    let postings = 0;
    if (allowed && typeof q !== 'string') for (const t of q) postings += bm25.keysOf(t.term).length;
    if (allowed && allowed.length * q.length * DIRECT_BM25_COST < postings) {
      // Few documents qualify: score them directly (binary search per term) rather than every posting.
      const keys = keyMask ? allowed.filter((k) => keyMask[k] === 1) : allowed;
      return rankedBy(Array.from(keys), bm25.scoreDocs(q, keys), N);
    }
    const hits = bm25.search(q, N, keyMask ? { filter: (k) => keyMask[k] === 1 } : undefined, !this.pruning);
    return { keys: hits.map((h) => h.key), scores: hits.map((h) => h.score) };
  }

  private denseTop(q: Float32Array, N: number, keyMask: Uint8Array | null, agg: PassageAggregate, stage: RankRequest['dense']): Ranked {
    const live = this.live;
    const dense = live.dense!;
    const { rowKey, keyRow0 } = live;
    let filter: ((row: number) => boolean) | undefined;
    if (keyMask && agg === 'first') filter = (r) => keyMask[rowKey[r]] === 1 && keyRow0[rowKey[r]] === r;
    else if (keyMask) filter = (r) => keyMask[rowKey[r]] === 1;
    else if (agg === 'first' && live.chunked) filter = (r) => keyRow0[rowKey[r]] === r;
    if (!live.chunked) {
      const { rows, scores } = dense.search(q, N, { ...stage, ...(filter ? { filter } : {}) });
      return { keys: Array.from(rows, (r) => rowKey[r]), scores: Array.from(scores) };
    }
    // Passages: take more rows than N until N distinct documents (rows come best-first, so a doc's
    // first row is its best passage).
    for (let m = N * 3; ; m *= 4) {
      const { rows, scores } = dense.search(q, m, { ...stage, ...(filter ? { filter } : {}) });
      const keys: number[] = [];
      const out: number[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < rows.length && keys.length < N; i++) {
        const key = rowKey[rows[i]];
        if (seen.has(key)) continue;
        seen.add(key);
        keys.push(key);
        out.push(scores[i]);
      }
      if (keys.length >= N || rows.length < m) {
        if (agg === 'sum') return rankedBy(keys, this.denseDocScores(q, keys, 'sum'));
        return { keys, scores: out };
      }
    }
  }

  private denseDocScores(q: Float32Array, keys: number[], agg: PassageAggregate): number[] {
    const live = this.live;
    const rows: number[] = [];
    for (const key of keys) {
      const n = agg === 'first' ? Math.min(1, live.keyRows[key]) : live.keyRows[key];
      for (let r = 0; r < n; r++) rows.push(live.keyRow0[key] + r);
    }
    const s = rows.length ? live.dense!.scoreRows(q, rows) : new Float32Array(0);
    const out: number[] = [];
    let at = 0;
    for (const key of keys) {
      const n = agg === 'first' ? Math.min(1, live.keyRows[key]) : live.keyRows[key];
      out.push(aggregate(s, at, n, agg));
      at += n;
    }
    return out;
  }

  /**
   * The sparse top-N keys. One row per document: pruned (sparse-top.ts), with exact scores kept for the top-N
   * and for `others`. Passages: every touched row's score, aggregated per key into keyScore.
   */
  private sparseTop(q: NonNullable<M3Embedding['sparse']>, N: number, keyMask: Uint8Array | null, agg: PassageAggregate, others: number[] = []): Ranked {
    const live = this.live;
    this.sparseScores = null;
    if (this.pruning && !live.chunked) {
      const { alive, keyRow0 } = live;
      const must = Uint32Array.from(others, (k) => keyRow0[k]).sort();
      const accept = keyMask ? (key: number) => alive[key] === 1 && keyMask[key] === 1 : (key: number) => alive[key] === 1;
      const res = this.sparseTopN.run(q, live.sparseSegments, N, live.rowKey, accept, { rows: must });
      const scores = new Map<number, number>();
      for (let i = 0; i < must.length; i++) scores.set(live.rowKey[must[i]], res.mustScores[i]);
      for (let i = 0; i < res.keys.length; i++) scores.set(res.keys[i], res.scores[i]);
      this.sparseScores = scores;
      return { keys: res.keys, scores: res.scores };
    }
    const touched = this.sparseAcc.run(q, live.sparseSegments, live.rows);
    if (this.keyScore.length < live.keyCapacity) {
      this.keyScore = new Float32Array(live.keyCapacity);
      this.keySeen = new Uint8Array(live.keyCapacity);
    } else {
      this.keyScore.fill(0);
      this.keySeen.fill(0);
    }
    const { keyScore, keySeen } = this;
    const { rowKey, alive, keyRow0 } = live;
    const top = new TopK(N);
    const keys: number[] = [];
    for (let i = 0; i < touched.length; i++) {
      const row = touched[i];
      const key = rowKey[row];
      if (!alive[key] || (keyMask && !keyMask[key])) continue;
      const s = this.sparseAcc.score(row);
      if (!keySeen[key]) {
        keySeen[key] = 1;
        keys.push(key);
        keyScore[key] = agg === 'first' && keyRow0[key] !== row ? 0 : s;
      } else if (agg === 'sum') keyScore[key] += s;
      else if (agg === 'max') keyScore[key] = Math.max(keyScore[key], s);
      else if (keyRow0[key] === row) keyScore[key] = s;
    }
    for (const key of keys) if (keyScore[key] > 0) top.push(key, keyScore[key]);
    const res = top.results();
    return { keys: res.map((r) => r.key), scores: res.map((r) => r.score) };
  }

  private colbertTop(q: Float32Array, N: number, keyMask: Uint8Array | null, agg: PassageAggregate): Ranked {
    if (!this.live.hasColbert) throw new Error('mode "colbert" needs stored ColBERT vectors: open the index with { colbert: true }');
    const top = new TopK(N);
    for (const [, key] of this.live.idToKey) {
      if (keyMask && !keyMask[key]) continue;
      top.push(key, this.colbertDoc(q, key, agg));
    }
    const res = top.results();
    return { keys: res.map((r) => r.key), scores: res.map((r) => r.score) };
  }

  private colbertDoc(q: Float32Array, key: number, agg: PassageAggregate): number {
    const live = this.live;
    const n = agg === 'first' ? Math.min(1, live.keyRows[key]) : live.keyRows[key];
    const s = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const row = live.keyRow0[key] + r;
      const seg = live.segmentOfRow(row);
      if (!seg.colbert) continue;
      const scorer = this.colbertScorer(q, seg.colbert.dims);
      s[r] = scorer.score(seg.colbert, row - seg.rowBase);
    }
    return aggregate(s, 0, n, agg);
  }

  /** The MaxSim scorer loaded with this query (quantised once, not per document). */
  private colbertScorer(q: Float32Array, dims: number): MaxSimScorer {
    const { MaxSimScorer, prepareColbertQuery } = colbertScoring();
    this.maxSim ??= new MaxSimScorer();
    const c = this.colbertQ;
    if (!c || c.src !== q || c.dims !== dims) {
      const prepared = prepareColbertQuery(q, dims);
      this.colbertQ = { src: q, dims, prepared };
      this.maxSim.setQuery(prepared);
    }
    return this.maxSim;
  }

  private exactScores(name: SignalName, keys: number[], req: RankRequest, sparseRan: boolean): number[] {
    const emb = req.embedding;
    switch (name) {
      case 'dense':
        return this.denseDocScores(emb!.dense!, keys, req.aggregate);
      case 'sparse':
        if (!sparseRan) this.sparseTop(emb!.sparse!, 1, null, req.aggregate, keys);
        if (this.sparseScores) {
          const s = this.sparseScores;
          return keys.map((k) => s.get(k) ?? 0);
        }
        return keys.map((k) => (this.keySeen[k] ? this.keyScore[k] : 0));
      case 'bm25':
        return Array.from(this.live.bm25!.scoreDocs(req.constraint?.bm25 ?? req.text!, keys));
      case 'colbert':
        return keys.map((k) => this.colbertDoc(emb!.colbert!, k, req.aggregate));
    }
  }
}

function wantedSignals(req: RankRequest, live: LiveIndex): Set<SignalName> {
  const emb = req.embedding;
  const have: Record<SignalName, boolean> = {
    dense: !!emb?.dense && !!live.dense,
    sparse: !!emb?.sparse && live.sparseSegments.length > 0,
    bm25: (!!req.text || !!req.constraint?.bm25.length) && !!live.bm25 && live.bm25.size > 0,
    colbert: !!emb?.colbert && live.hasColbert,
  };
  if (req.mode !== 'hybrid') {
    const out = new Set<SignalName>();
    if (req.mode === 'colbert') {
      if (!emb?.colbert) throw new Error('mode "colbert" needs the query\'s ColBERT vectors');
      return out; // scored by colbertTop
    }
    if (req.mode === 'bm25' && !live.bm25) throw new Error('mode "bm25" needs BM25 indexing (open without { bm25: false })');
    if (!have[req.mode]) {
      const why = req.mode === 'bm25' ? 'a query text' : `the query's ${req.mode} output and stored ${req.mode} vectors`;
      if (req.mode === 'bm25' && (req.text || req.constraint) && live.bm25) return out; // empty index, or nothing to score
      if (live.liveDocs === 0) return out;
      throw new Error(`mode "${req.mode}" needs ${why}`);
    }
    out.add(req.mode);
    return out;
  }
  const out = new Set<SignalName>();
  for (const s of ['dense', 'sparse', 'bm25', 'colbert'] as const) if (have[s] && req.weights[s] > 0) out.add(s);
  return out;
}

function aggregate(s: ArrayLike<number>, at: number, n: number, agg: PassageAggregate): number {
  if (n === 0) return 0;
  if (agg === 'first') return s[at];
  let acc = agg === 'sum' ? 0 : -Infinity;
  for (let i = 0; i < n; i++) acc = agg === 'sum' ? acc + s[at + i] : Math.max(acc, s[at + i]);
  return acc;
}

function ranksOf(list: Ranked | undefined, cand: number[]): number[] {
  if (!list) return cand.map(() => 0);
  const pos = new Map<number, number>();
  list.keys.forEach((k, i) => pos.set(k, i + 1));
  return cand.map((k) => pos.get(k) ?? 0);
}

function rankedBy(keys: number[], scores: ArrayLike<number>, limit = keys.length): Ranked {
  const idx = keys
    .map((_, i) => i)
    .sort((a, b) => scores[b] - scores[a] || keys[a] - keys[b])
    .slice(0, limit);
  return { keys: idx.map((i) => keys[i]), scores: idx.map((i) => scores[i]) };
}

/** Each key's index in `keys`. */
function positionsIn(keys: number[]): Map<number, number> {
  const at = new Map<number, number>();
  for (let i = 0; i < keys.length; i++) at.set(keys[i], i);
  return at;
}

function topOf(keys: number[], scores: ArrayLike<number>, k: number): { key: number; score: number }[] {
  const top = new TopK(k);
  for (let i = 0; i < keys.length; i++) top.push(keys[i], scores[i]);
  return top.results();
}
