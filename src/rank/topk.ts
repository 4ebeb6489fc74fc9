/**
 * Bounded top-k selection over (key, score) pairs with a binary min-heap.
 *
 * Order: higher score first; equal scores are broken by key ascending, so results are
 * deterministic whatever the push order. The heap root is the *worst* kept entry, which makes
 * the common case (a candidate that does not qualify) a single comparison.
 *
 * Keys and scores live in parallel Float64Arrays (no per-entry objects while selecting); keys can
 * be any finite number, although the rankers use uint32 document keys. NaN scores are ignored:
 * they would poison the heap order.
 */
export interface ScoredKey {
  key: number;
  score: number;
}

export class TopK {
  readonly k: number;
  private readonly keys: Float64Array;
  private readonly scores: Float64Array;
  private n = 0;

  constructor(k: number) {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`TopK: k must be a non-negative integer, got ${k}`);
    this.k = k;
    this.keys = new Float64Array(k);
    this.scores = new Float64Array(k);
  }

  /** Number of entries currently kept (≤ k). */
  get size(): number {
    return this.n;
  }

  /**
   * Score a candidate must beat to enter, once the heap is full (-Infinity before). A candidate
   * with exactly this score may still enter if its key is lower than the worst kept key.
   */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0];
  }

  /** Whether push(key, score) would keep the entry. Lets callers skip costly work (filters). */
  accepts(key: number, score: number): boolean {
    if (score !== score || this.k === 0) return false;
    if (this.n < this.k) return true;
    const s0 = this.scores[0];
    return score > s0 || (score === s0 && key < this.keys[0]);
  }

  push(key: number, score: number): void {
    if (score !== score) return; // NaN
    const k = this.k;
    if (this.n < k) {
      this.siftUp(this.n++, key, score);
      return;
    }
    if (k === 0) return;
    const s0 = this.scores[0];
    if (score < s0 || (score === s0 && key >= this.keys[0])) return;
    this.siftDown(0, key, score);
  }

  /** Results best-first. Non-destructive: the heap can keep receiving pushes afterwards. */
  results(): ScoredKey[] {
    const n = this.n;
    const idx = new Array<number>(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    const { keys, scores } = this;
    idx.sort((a, b) => scores[b] - scores[a] || keys[a] - keys[b]);
    const out = new Array<ScoredKey>(n);
    for (let i = 0; i < n; i++) out[i] = { key: keys[idx[i]], score: scores[idx[i]] };
    return out;
  }

  clear(): void {
    this.n = 0;
  }

  // "a is worse than b": lower score, or same score and higher key.
  private siftUp(i: number, key: number, score: number): void {
    const { keys, scores } = this;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = scores[p];
      if (!(score < ps || (score === ps && key > keys[p]))) break;
      keys[i] = keys[p];
      scores[i] = ps;
      i = p;
    }
    keys[i] = key;
    scores[i] = score;
  }

  private siftDown(i: number, key: number, score: number): void {
    const { keys, scores } = this;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      if (r < n) {
        const rs = scores[r];
        const ls = scores[l];
        if (rs < ls || (rs === ls && keys[r] > keys[l])) c = r;
      }
      const cs = scores[c];
      if (!(cs < score || (cs === score && keys[c] > key))) break;
      keys[i] = keys[c];
      scores[i] = cs;
      i = c;
    }
    keys[i] = key;
    scores[i] = score;
  }
}

/**
 * Top k of a score accumulator (term-at-a-time search): `scores[key]` for the first `n` keys of `touched`,
 * each reset to 0 so the shared buffer is clean for the next query. A filter is user code (it may throw,
 * search again or mutate the index), so the buffer is emptied into a private copy before its first call.
 */
export function topKOfAccumulator(
  scores: Float32Array | Float64Array,
  touched: Uint32Array,
  n: number,
  k: number,
  filter?: (key: number) => boolean,
): ScoredKey[] {
  const top = new TopK(Math.min(Math.floor(k), n));
  if (filter === undefined) {
    for (let i = 0; i < n; i++) {
      const key = touched[i];
      top.push(key, scores[key]);
      scores[key] = 0;
    }
    return top.results();
  }
  const vals = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    vals[i] = scores[touched[i]];
    scores[touched[i]] = 0;
  }
  const keys = touched.slice(0, n);
  for (let i = 0; i < n; i++) if (top.accepts(keys[i], vals[i]) && filter(keys[i])) top.push(keys[i], vals[i]);
  return top.results();
}
