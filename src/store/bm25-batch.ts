/**
 * A batch's texts to its BM25 block in one pass: every term occurrence goes straight into flat arrays
 * (term id, document, position), one counting sort groups them by term, and the postings come out in the
 * block's order. The same block as analyzeTermPositions per document + buildBm25 (tested equal), without a
 * Map and position lists per document or the regrouping of those maps into lists: ingest's largest cost.
 */
import { forEachTermId, type AnalyzerOptions } from '../rank/analyzer.ts';
import { TermIds } from '../rank/term-ids.ts';
import { encodeBm25, MAX_STORED_TF, type TermPositions } from './bm25-postings.ts';
import type { Bm25Block } from './types.ts';

export function bm25BlockOf(texts: readonly string[], analyzer?: AnalyzerOptions): Bm25Block {
  const ids = new TermIds();
  let cap = 1 << 15;
  let occTerm = new Uint32Array(cap);
  let occDoc = new Uint32Array(cap);
  let occPos = new Uint32Array(cap);
  let n = 0;
  const lengths = new Uint32Array(texts.length);
  let doc = 0;
  let at = -1;
  let lastStart = -1;
  const emit = (id: number, start: number) => {
    // A position is a distinct start offset in text order (analyzeTermPositions): tokens that start together share one.
    if (start !== lastStart) {
      at++;
      lastStart = start;
    }
    if (n === cap) {
      cap *= 2;
      occTerm = grow(occTerm, cap);
      occDoc = grow(occDoc, cap);
      occPos = grow(occPos, cap);
    }
    occTerm[n] = id;
    occDoc[n] = doc;
    occPos[n++] = at;
  };
  for (; doc < texts.length; doc++) {
    const first = n;
    at = -1;
    lastStart = -1;
    forEachTermId(texts[doc], analyzer, ids, emit);
    lengths[doc] = n - first;
  }
  // Terms in the block's (UTF-16 code unit) order; rank[id] = the term's index in it.
  const terms = ids.names.slice().sort(); // the default order is by UTF-16 code units, as buildBm25's
  const rank = new Uint32Array(terms.length);
  for (let t = 0; t < terms.length; t++) rank[ids.of(terms[t])] = t;
  // Counting sort of the occurrences by term rank; stable, so each term's stay in (document, position) order.
  const next = new Uint32Array(terms.length + 1);
  for (let i = 0; i < n; i++) next[rank[occTerm[i]] + 1]++;
  for (let t = 1; t <= terms.length; t++) next[t] += next[t - 1];
  const sorted = new Uint32Array(n);
  for (let i = 0; i < n; i++) sorted[next[rank[occTerm[i]]]++] = i;
  // Postings: each run of one term's occurrences in one document is one entry; its positions are a number
  // (one) or a view of `pos` (several).
  const pos = new Uint32Array(n);
  for (let i = 0; i < n; i++) pos[i] = occPos[sorted[i]];
  const offsets = new Uint32Array(terms.length + 1);
  const docs = new Uint32Array(n); // entries ≤ occurrences
  const tfs = new Uint32Array(n);
  const positions: TermPositions[] = [];
  let e = 0;
  let i = 0;
  for (let t = 0; t < terms.length; t++) {
    offsets[t] = e;
    const end = i + countOf(next, t);
    while (i < end) {
      const d = occDoc[sorted[i]];
      let j = i + 1;
      while (j < end && occDoc[sorted[j]] === d) j++;
      docs[e] = d;
      tfs[e++] = j - i < MAX_STORED_TF ? j - i : MAX_STORED_TF;
      positions.push(j - i === 1 ? pos[i] : pos.subarray(i, j));
      i = j;
    }
  }
  offsets[terms.length] = e;
  return encodeBm25(terms, offsets, docs.subarray(0, e), tfs.subarray(0, e), lengths, positions);
}

/** Occurrences of term rank t: after placing, next[t] is where term t's ended, next[t-1] where they began. */
function countOf(next: Uint32Array, t: number): number {
  return next[t] - (t === 0 ? 0 : next[t - 1]);
}

function grow(a: Uint32Array, cap: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(cap);
  b.set(a);
  return b;
}
