/**
 * Rebuilds the in-memory BM25 index on open from the segments' stored BM25 postings, without
 * re-analysing any text: the blocks are merged into one Bm25Snapshot (typed arrays) and restored with
 * Bm25Index.fromSnapshot, which is much faster than adding documents one by one.
 */
import { Bm25Index, type Bm25DocTerms, type Bm25Params, type Bm25Snapshot } from '../rank/bm25.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import type { Bm25Block } from '../store/types.ts';

export interface Bm25Source {
  keys: Uint32Array;
  bm25: Bm25Block;
}

export function mergeBm25(sources: readonly Bm25Source[], alive: (key: number) => boolean, params: Bm25Params, analyzer: AnalyzerOptions): Bm25Index {
  const ids = new Map<string, number>();
  const terms: string[] = [];
  const counts: number[] = [];
  const maps: Int32Array[] = [];
  let docs = 0;
  for (const { keys, bm25 } of sources) {
    const map = new Int32Array(bm25.terms.length);
    for (let t = 0; t < bm25.terms.length; t++) {
      const term = bm25.terms[t];
      let g = ids.get(term);
      if (g === undefined) {
        g = terms.length;
        ids.set(term, g);
        terms.push(term);
        counts.push(0);
      }
      map[t] = g;
      for (let e = bm25.offsets[t]; e < bm25.offsets[t + 1]; e++) if (alive(keys[bm25.docs[e]])) counts[g]++;
    }
    maps.push(map);
    for (let i = 0; i < keys.length; i++) if (alive(keys[i])) docs++;
  }
  const postingOffsets = new Uint32Array(terms.length + 1);
  for (let g = 0; g < terms.length; g++) postingOffsets[g + 1] = postingOffsets[g] + counts[g];
  const total = postingOffsets[terms.length];
  const postingKeys = new Uint32Array(total);
  const postingTfs = new Uint16Array(total);
  const fill = postingOffsets.slice(0, terms.length);
  const docKeys = new Uint32Array(docs);
  const docLengths = new Uint32Array(docs);
  let d = 0;
  let sorted = true;
  for (let s = 0; s < sources.length; s++) {
    const { keys, bm25 } = sources[s];
    const map = maps[s];
    for (let t = 0; t < bm25.terms.length; t++) {
      const g = map[t];
      for (let e = bm25.offsets[t]; e < bm25.offsets[t + 1]; e++) {
        const key = keys[bm25.docs[e]];
        if (!alive(key)) continue;
        const at = fill[g]++;
        if (at > postingOffsets[g] && postingKeys[at - 1] > key) sorted = false;
        postingKeys[at] = key;
        postingTfs[at] = bm25.tfs[e];
      }
    }
    for (let i = 0; i < keys.length; i++) {
      if (!alive(keys[i])) continue;
      if (d > 0 && docKeys[d - 1] > keys[i]) sorted = false;
      docKeys[d] = keys[i];
      docLengths[d++] = bm25.lengths[i];
    }
  }
  if (!sorted) sortPostings(postingOffsets, postingKeys, postingTfs, docKeys, docLengths);
  // Term dictionary: the terms concatenated, UTF-16 offsets (as Bm25Snapshot defines them).
  const termOffsets = new Uint32Array(terms.length + 1);
  for (let g = 0; g < terms.length; g++) termOffsets[g + 1] = termOffsets[g] + terms[g].length;
  const snap: Bm25Snapshot = {
    format: 'm3-search/bm25',
    version: 1,
    params,
    analyzer,
    termBytes: new TextEncoder().encode(terms.join('')),
    termOffsets,
    postingOffsets,
    postingKeys,
    postingTfs,
    docKeys,
    docLengths,
  };
  return Bm25Index.fromSnapshot(snap, params, analyzer);
}

/** Segments normally hold ascending keys in seq order; this repairs the order if they don't. */
function sortPostings(po: Uint32Array, keys: Uint32Array, tfs: Uint16Array, docKeys: Uint32Array, lens: Uint32Array): void {
  for (let g = 0; g + 1 < po.length; g++) {
    const from = po[g];
    const to = po[g + 1];
    const idx = Array.from({ length: to - from }, (_, i) => from + i).sort((a, b) => keys[a] - keys[b]);
    const k2 = idx.map((i) => keys[i]);
    const t2 = idx.map((i) => tfs[i]);
    keys.set(k2, from);
    tfs.set(t2, from);
  }
  const idx = Array.from({ length: docKeys.length }, (_, i) => i).sort((a, b) => docKeys[a] - docKeys[b]);
  const k2 = idx.map((i) => docKeys[i]);
  const l2 = idx.map((i) => lens[i]);
  docKeys.set(k2);
  lens.set(l2);
}

/** The docs of one segment as Bm25Index.add takes them (new segments arriving after open). */
export function* segmentDocTerms(keys: Uint32Array, bm25: Bm25Block): Generator<Bm25DocTerms> {
  const maps = Array.from({ length: keys.length }, () => new Map<string, number>());
  for (let t = 0; t < bm25.terms.length; t++) {
    for (let e = bm25.offsets[t]; e < bm25.offsets[t + 1]; e++) maps[bm25.docs[e]].set(bm25.terms[t], bm25.tfs[e]);
  }
  for (let i = 0; i < keys.length; i++) yield { key: keys[i], length: bm25.lengths[i], terms: maps[i] };
}
