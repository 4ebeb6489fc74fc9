/**
 * Levenshtein distance bounded by `max`: a DP restricted to the diagonal band |i − j| ≤ max, which stops as
 * soon as a whole row exceeds `max`. O(len · max) instead of O(len²); UTF-16 code units.
 * Returns the distance, or max + 1 when it is larger.
 */
let prev = new Int32Array(64);
let cur = new Int32Array(64);

export function boundedLevenshtein(a: string, b: string, max: number): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  if (la === 0 || lb === 0) return Math.max(la, lb);
  if (prev.length <= lb) {
    prev = new Int32Array(lb * 2 + 2);
    cur = new Int32Array(lb * 2 + 2);
  }
  const big = max + 1;
  for (let j = 0; j <= lb; j++) prev[j] = j <= max ? j : big;
  for (let i = 1; i <= la; i++) {
    const lo = Math.max(1, i - max);
    const hi = Math.min(lb, i + max);
    cur[0] = i <= max ? i : big;
    if (lo > 1) cur[lo - 1] = big;
    let rowMin = cur[0];
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      let v = prev[j - 1] + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const del = prev[j] + 1;
      if (del < v) v = del;
      const ins = cur[j - 1] + 1;
      if (ins < v) v = ins;
      if (v > big) v = big;
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < lb) cur[hi + 1] = big;
    if (rowMin > max) return big;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return Math.min(prev[lb], big);
}
