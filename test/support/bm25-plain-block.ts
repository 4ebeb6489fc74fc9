/** A plain (uncoded, schema ≤ 3 layout) BM25 block of documents given as (term, tf) lists, for SegmentBm25 tests. */
import type { Bm25BlockSource } from '../../src/rank/bm25.ts';

/** A document's terms: Bm25DocTerms (a Map) or plain (term, tf) pairs. */
type DocTerms = { key: number; terms: Iterable<[string, number]>; length: number };

/** `shuffleTerms` stores the terms out of order (descending), as some old blocks did. */
export function plainBm25Block(docs: DocTerms[], shuffleTerms = false): Bm25BlockSource {
  const byTerm = new Map<string, [number, number][]>();
  docs.forEach((d, i) => {
    for (const [t, tf] of d.terms) {
      if (!byTerm.has(t)) byTerm.set(t, []);
      byTerm.get(t)!.push([i, tf]);
    }
  });
  const terms = [...byTerm.keys()].sort();
  if (shuffleTerms) terms.reverse();
  const offsets = new Uint32Array(terms.length + 1);
  const flat = terms.flatMap((t) => byTerm.get(t)!);
  terms.forEach((t, i) => (offsets[i + 1] = offsets[i] + byTerm.get(t)!.length));
  return {
    keys: Uint32Array.from(docs, (d) => d.key),
    bm25: {
      terms,
      offsets,
      docs: Uint16Array.from(flat, (x) => x[0]),
      tfs: Uint8Array.from(flat, (x) => x[1]),
      lengths: Uint32Array.from(docs, (d) => d.length),
    },
  };
}
