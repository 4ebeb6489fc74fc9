/**
 * Compaction policy as pure functions: when to compact, and which segments to rewrite into which.
 * The writer (index-writer.ts) reads the segments, merges each planned group and commits the result.
 */

import { checkMergePolicy, MAX_SEGMENT_DOCS, MERGE_FAN_IN, type MergePolicy } from './merge-policy.ts';

/** A segment's size tier: ⌊log_F(docs)⌋ (0 for one document or none). */
export function mergeTier(docs: number, fanIn = MERGE_FAN_IN): number {
  if (!Number.isFinite(docs)) return Number.POSITIVE_INFINITY; // a segment that must not merge (the writer's schema 4 ones)
  let t = 0;
  for (let size = fanIn; size <= docs; size *= fanIn) t++;
  return t;
}

/**
 * Tiered merges of neighbouring segments (sizes in key order, stored documents): [start, end) ranges, each to
 * be rewritten into one segment. A merge is planned only when its output reaches a higher tier than each of its
 * inputs and holds at most maxDocs documents, so every rewrite lifts a document at least one tier: a document is
 * rewritten at most mergeTier(maxDocs) + 1 times however the index grew (one add of a document at a time
 * included), and a big segment is never rewritten for a small neighbour. Cheapest merges first (lowest input
 * tier, then leftmost); a merge's output may merge again (the ranges returned are the final ones, so each
 * document is rewritten once per call). Segments stay in order: only neighbours merge.
 */
export function planMerges(sizes: readonly number[], policy: MergePolicy = {}): [number, number][] {
  checkMergePolicy(policy);
  const F = policy.fanIn ?? MERGE_FAN_IN;
  const max = policy.maxDocs ?? MAX_SEGMENT_DOCS;
  // Nodes: runs of original segments, merged as planned.
  const nodes = sizes.map((docs, i) => ({ start: i, end: i + 1, docs, tier: mergeTier(docs, F) }));
  for (;;) {
    let best: { i: number; j: number; tier: number } | null = null;
    for (let i = 0; i < nodes.length; i++) {
      let docs = nodes[i].docs;
      let tier = nodes[i].tier;
      for (let j = i + 1; j < nodes.length; j++) {
        docs += nodes[j].docs;
        if (docs > max) break;
        tier = Math.max(tier, nodes[j].tier);
        if (mergeTier(docs, F) > tier) {
          if (!best || tier < best.tier) best = { i, j, tier };
          break;
        }
      }
    }
    if (!best) break;
    const run = nodes.slice(best.i, best.j + 1);
    const docs = run.reduce((n, r) => n + r.docs, 0);
    nodes.splice(best.i, run.length, { start: run[0].start, end: run[run.length - 1].end, docs, tier: mergeTier(docs, F) });
  }
  return nodes.filter((r) => r.end - r.start > 1).map((r) => [r.start, r.end]);
}

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
