/**
 * A plain BM25 postings block (what the segment builder hands over, or a caller's own) coded as a stored one,
 * so SegmentBm25 reads every segment the same way.
 */
import type { Bm25PostingsBlock } from '../rank/bm25.ts';
import { encodeBm25 } from '../store/bm25-postings.ts';
import type { Bm25Block } from '../store/types.ts';

const MAX_TF = 0xffff;

/** A stored tf as search uses it: 0 (skipped) unless > 0, else an integer in 1..MAX_TF. */
function usableTf(raw: number): number {
  if (!(raw > 0)) return 0;
  return raw <= MAX_TF && (raw | 0) === raw ? raw : Math.min(MAX_TF, Math.max(1, Math.round(raw)));
}

/**
 * A plain postings block coded as a stored one. What the segment builder writes (terms ascending, each
 * term's documents ascending) is coded as it is; anything else is repaired first, as lookups binary-search
 * the terms and the coding needs ascending documents.
 */
export function codedBlock(b: Bm25PostingsBlock): Bm25Block {
  const { terms, offsets } = b;
  let ok = true;
  for (let t = 1; t < terms.length && ok; t++) if (!(terms[t - 1] < terms[t])) ok = false;
  for (let t = 0; t < terms.length && ok; t++) for (let e = offsets[t] + 1; e < offsets[t + 1]; e++) if (!(b.docs[e] > b.docs[e - 1])) ok = false;
  const lengths = uint32Lengths(b.lengths);
  if (ok) return encodeBm25([...terms], offsets, b.docs, Array.from(b.tfs, usableTf), lengths);
  // Group entries by term (duplicates merged), terms sorted.
  const byTerm = new Map<string, { doc: number; tf: number }[]>();
  for (let t = 0; t < terms.length; t++) {
    let list = byTerm.get(terms[t]);
    if (!list) byTerm.set(terms[t], (list = []));
    for (let e = offsets[t]; e < offsets[t + 1]; e++) list.push({ doc: b.docs[e], tf: b.tfs[e] });
  }
  const sorted = [...byTerm.keys()].sort();
  const sortedOffsets = new Uint32Array(sorted.length + 1);
  const docs: number[] = [];
  const tfs: number[] = [];
  sorted.forEach((term, i) => {
    // Per document, a duplicated term's tfs add up (as the analyzer's counts would), capped.
    const perDoc = new Map<number, number>();
    for (const { doc, tf } of byTerm.get(term)!)
      if (tf > 0) perDoc.set(doc, Math.min(MAX_TF, (perDoc.get(doc) ?? 0) + Math.min(MAX_TF, Math.max(1, Math.round(tf)))));
    for (const doc of [...perDoc.keys()].sort((x, y) => x - y)) {
      docs.push(doc);
      tfs.push(perDoc.get(doc)!);
    }
    sortedOffsets[i + 1] = docs.length;
  });
  return encodeBm25(sorted, sortedOffsets, docs, tfs, lengths);
}

function uint32Lengths(a: ArrayLike<number>): Uint32Array {
  for (let i = 0; i < a.length; i++) {
    const length = a[i];
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new RangeError(`BM25: bad length ${length}`);
  }
  return Uint32Array.from(a);
}
