/**
 * Exact BM25 top-k with MaxScore pruning over the terms' gathered postings (keys ascending), block by block of keys.
 *
 * A term's bound is its weight times its largest tf / (tf + nA + nB · length) over its postings (computed once
 * per gathered list: the list, like nA and nB, changes only when the index does). In each block of keys the
 * terms whose bounds sum (smallest first) below the k-th best score so far are non-essential: only keys of the
 * essential terms are visited, each bounded by its essential contributions plus the non-essential bounds, those
 * replaced one by one (largest first) by the key's own contribution, and scored exactly only when the bound
 * can still reach the k-th score. The exact score is SegmentBm25.search's float32 sum in query-term order,
 * so hits and scores are the exhaustive scan's (TopK breaks ties by key whatever the visiting order).
 */
import { type ScoredKey, TopK } from '../rank/topk.ts';

export interface Bm25TopTerm {
  keys: Uint32Array;
  tfs: Uint16Array;
  /** qtf · idf · (k1 + 1) */
  weight: number;
  /** max over the postings of tf / (tf + nA + nB · length) */
  maxRatio: number;
}

/** Keys per block: the essential terms' contributions are summed in a block-sized scratch. */
const BLOCK = 4096;

export function bm25TopPruned(
  terms: readonly Bm25TopTerm[],
  lengths: Uint32Array,
  nA: number,
  nB: number,
  k: number,
  filter?: (key: number) => boolean,
): ScoredKey[] {
  const T = terms.length;
  const top = new TopK(k);
  const U = terms.map((t) => t.weight * t.maxRatio);
  const pos = new Int32Array(T); // each term's first posting not yet passed
  const end = new Int32Array(T); // each term's first posting past the block
  const part = new Float64Array(BLOCK); // per call: a filter may search again
  const touched = new Uint32Array(BLOCK);
  const order = terms.map((_, i) => i);
  order.sort((a, b) => U[a] - U[b]);
  const eps = (T + 1) * 2 ** -23; // float32 rounding a sum of T terms may add, relative
  let maxKey = 0;
  for (const t of terms) if (t.keys.length) maxKey = Math.max(maxKey, t.keys[t.keys.length - 1]);
  const contribution = (t: Bm25TopTerm, p: number, key: number): number => {
    const tf = t.tfs[p];
    return (t.weight * tf) / (tf + nA + nB * lengths[key]);
  };
  for (let base = 0; base <= maxKey; base += BLOCK) {
    const limit = base + BLOCK;
    for (let t = 0; t < T; t++) end[t] = lowerBound(terms[t].keys, limit, pos[t]);
    let theta = top.threshold;
    let e = 0;
    let neU = 0;
    while (e < T && (neU + U[order[e]]) * (1 + eps) < theta) neU += U[order[e++]];
    let n = 0;
    for (let i = e; i < T; i++) {
      const ti = order[i];
      const t = terms[ti];
      for (let p = pos[ti]; p < end[ti]; p++) {
        const key = t.keys[p];
        const at = key - base;
        if (part[at] === 0) touched[n++] = at; // contributions are > 0
        part[at] += contribution(t, p, key);
      }
    }
    candidates: for (let c = 0; c < n; c++) {
      const at = touched[c];
      let bound = part[at] + neU;
      part[at] = 0;
      if (bound + bound * eps < theta) continue;
      const key = base + at;
      for (let i = e - 1; i >= 0; i--) {
        const ti = order[i];
        const p = indexIn(terms[ti].keys, key, pos[ti], end[ti]);
        bound += (p < 0 ? 0 : contribution(terms[ti], p, key)) - U[ti];
        if (bound + bound * eps + 1e-12 < theta) continue candidates;
      }
      let s = 0;
      for (let ti = 0; ti < T; ti++) {
        const p = indexIn(terms[ti].keys, key, pos[ti], end[ti]);
        if (p >= 0) s = Math.fround(s + contribution(terms[ti], p, key));
      }
      if (top.accepts(key, s) && (!filter || filter(key))) {
        top.push(key, s);
        theta = top.threshold;
      }
    }
    pos.set(end);
  }
  return top.results();
}

/** First index in [from, to) whose key is ≥ bound, or `to` (keys ascending). */
function lowerBound(a: Uint32Array, bound: number, from: number, to = a.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of `key` in a[from, to) (keys ascending), or −1. */
function indexIn(a: Uint32Array, key: number, from: number, to: number): number {
  const i = lowerBound(a, key, from, to);
  return i < to && a[i] === key ? i : -1;
}
