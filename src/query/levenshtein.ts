/** Levenshtein (edit distance) matching of a word against a term dictionary, in UTF-16 code units. */

/**
 * Every term of the ascending `sorted` dictionary within `max` edits of `query`: one DP row per character
 * of the current term, reused for the prefix it shares with the previous term (a walk over the implicit
 * trie of the sorted terms), and whole subtrees skipped by binary search once a row exceeds `max`.
 */
export function termsWithinSorted(sorted: readonly string[], query: string, max: number): string[] {
  const L = query.length;
  const out: string[] = [];
  const rows: Int32Array[] = [Int32Array.from({ length: L + 1 }, (_, j) => j)];
  const rowMin: number[] = [0];
  let prevTerm = '';
  let valid = 0; // rows[0..valid] hold prevTerm's prefixes
  let i = 0;
  outer: while (i < sorted.length) {
    const t = sorted[i];
    let depth = 0;
    const lim = Math.min(valid, t.length, prevTerm.length);
    while (depth < lim && t.charCodeAt(depth) === prevTerm.charCodeAt(depth)) depth++;
    for (let k = depth + 1; k <= t.length; k++) {
      const prev = rows[k - 1];
      const row = (rows[k] ??= new Int32Array(L + 1));
      const c = t.charCodeAt(k - 1);
      row[0] = k;
      let m = k;
      for (let j = 1; j <= L; j++) {
        let v = prev[j - 1] + (query.charCodeAt(j - 1) === c ? 0 : 1);
        if (prev[j] + 1 < v) v = prev[j] + 1;
        if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
        row[j] = v;
        if (v < m) m = v;
      }
      rowMin[k] = m;
      if (m > max) {
        // Nothing that starts with t[0, k) can come back within `max`: jump past all of them.
        const stem = t.slice(0, k);
        let lo = i + 1;
        let hi = sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (sorted[mid].startsWith(stem) || sorted[mid] < stem) lo = mid + 1;
          else hi = mid;
        }
        i = lo;
        prevTerm = t;
        valid = k - 1;
        continue outer;
      }
    }
    if (rows[t.length][L] <= max) out.push(t);
    prevTerm = t;
    valid = t.length;
    i++;
  }
  return out;
}
