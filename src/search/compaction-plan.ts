/**
 * Compaction policy as pure functions: when to compact, and which segments to rewrite into which.
 * The writer (index-writer.ts) reads the segments, merges each planned group and commits the result.
 */

/** Live documents per segment written by compaction at most. */
export const MAX_SEGMENT_DOCS = 16384;

/** Whether a write that leaves `tombstones` dead keys beside `docCount` live documents should compact. */
export function shouldCompact(tombstones: number, docCount: number, threshold = 0.25): boolean {
  return tombstones >= 64 && tombstones > threshold * (docCount + tombstones);
}

export interface PlannedSegment {
  seq: number;
  keys: Uint32Array;
}

export interface CompactionPlan<S extends PlannedSegment> {
  /** Segments kept as they are (no dead key, no neighbour to merge with). */
  keep: S[];
  /** Groups of neighbouring segments, each rewritten into one segment without its dead keys. */
  rewrite: S[][];
}

/**
 * Greedy runs of neighbouring segments (in the given order, which is key order), each holding at most
 * `maxDocs` live documents; a run of one segment without dead keys is kept as it is.
 */
export function planCompaction<S extends PlannedSegment>(segs: readonly S[], dead: ReadonlySet<number>, maxDocs = MAX_SEGMENT_DOCS): CompactionPlan<S> {
  const groups: S[][] = [];
  let cur: S[] = [];
  let curDocs = 0;
  for (const s of segs) {
    const liveDocs = Array.from(s.keys).filter((k) => !dead.has(k)).length;
    if (cur.length && curDocs + liveDocs > maxDocs) groups.push(cur), (cur = []), (curDocs = 0);
    cur.push(s);
    curDocs += liveDocs;
  }
  if (cur.length) groups.push(cur);
  const plan: CompactionPlan<S> = { keep: [], rewrite: [] };
  for (const g of groups) {
    const touched = g.length > 1 || g.some((s) => s.keys.some((k) => dead.has(k)));
    if (touched) plan.rewrite.push(g);
    else plan.keep.push(g[0]);
  }
  return plan;
}
