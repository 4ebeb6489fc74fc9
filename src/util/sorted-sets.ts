/**
 * Set operations on ascending uint32 key lists (document keys): membership, intersection, union,
 * difference. Query matching (src/query/match.ts) combines posting lists with them.
 */
import { indexInSorted } from './sorted.ts';

export function hasSorted(a: Uint32Array, x: number): boolean {
  return indexInSorted(a, x) >= 0;
}

/** Intersection of ascending key lists, smallest first (galloping would help only for very skewed sizes). */
export function intersectSorted(lists: Uint32Array[]): Uint32Array {
  if (lists.length === 0) return new Uint32Array(0);
  const sorted = [...lists].sort((a, b) => a.length - b.length);
  let acc = sorted[0];
  for (let l = 1; l < sorted.length && acc.length; l++) {
    const b = sorted[l];
    const out = new Uint32Array(acc.length);
    let n = 0;
    let j = 0;
    for (let i = 0; i < acc.length; i++) {
      const x = acc[i];
      while (j < b.length && b[j] < x) j++;
      if (j === b.length) break;
      if (b[j] === x) out[n++] = x;
    }
    acc = out.subarray(0, n);
  }
  return acc;
}

export function unionSorted(lists: Uint32Array[]): Uint32Array {
  const nonEmpty = lists.filter((l) => l.length);
  if (nonEmpty.length === 0) return new Uint32Array(0);
  if (nonEmpty.length === 1) return nonEmpty[0];
  if (nonEmpty.length === 2) {
    const [a, b] = nonEmpty;
    const out = new Uint32Array(a.length + b.length);
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < a.length && j < b.length) {
      const x = a[i];
      const y = b[j];
      if (x < y) (out[n++] = x), i++;
      else if (y < x) (out[n++] = y), j++;
      else (out[n++] = x), i++, j++;
    }
    while (i < a.length) out[n++] = a[i++];
    while (j < b.length) out[n++] = b[j++];
    return out.subarray(0, n);
  }
  // Many lists (a prefix or fuzzy expansion: ~200 at 100k documents): mark a bitmap, read it in order.
  // O(postings + maxKey / 32); concatenating and sorting cost ~5 ms for 70k postings.
  let max = 0;
  let total = 0;
  for (const l of nonEmpty) {
    total += l.length;
    if (l[l.length - 1] > max) max = l[l.length - 1];
  }
  if (max / 32 > 4 * total) return sortedUnique(nonEmpty, total); // sparse keys: a bitmap would be mostly empty
  const bits = new Uint32Array((max >>> 5) + 1);
  for (const l of nonEmpty) for (let i = 0; i < l.length; i++) bits[l[i] >>> 5] |= 1 << (l[i] & 31);
  const out = new Uint32Array(Math.min(total, max + 1));
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let word = bits[w];
    while (word !== 0) {
      const low = word & -word; // lowest set bit
      out[n++] = w * 32 + (31 - Math.clz32(low));
      word ^= low;
    }
  }
  return out.subarray(0, n);
}

function sortedUnique(lists: Uint32Array[], total: number): Uint32Array {
  const all = new Uint32Array(total);
  let at = 0;
  for (const l of lists) all.set(l, at), (at += l.length);
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (n === 0 || all[n - 1] !== all[i]) all[n++] = all[i];
  return all.subarray(0, n);
}

export function subtractSorted(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (!b.length || !a.length) return a;
  const out = new Uint32Array(a.length);
  let n = 0;
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    while (j < b.length && b[j] < x) j++;
    if (j < b.length && b[j] === x) continue;
    out[n++] = x;
  }
  return out.subarray(0, n);
}

/**
 * The ascending, duplicate-free union of the ascending `sorted` and `keys` in any order (the index's
 * tombstone list with newly dead keys): a set union, then a sort.
 */
export function withKeys(sorted: readonly number[], keys: readonly number[]): number[] {
  return [...new Set([...sorted, ...keys])].sort((x, y) => x - y);
}
