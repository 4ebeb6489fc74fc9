/**
 * A merge committed (index-writer.ts merge, by this tab or another: tab-sync.ts) swapped into the live index:
 * the merged segment holds exactly the rows of a run of neighbouring segments, in the same order, dead rows
 * included, so rows, keys and the dense matrix stay as they are and only the segment list and the blocks
 * searches read change. Loaded with the writer, or by tab sync when another tab merged (search path budget).
 */
import type { SegmentRecord } from '../store/types.ts';
import type { LiveIndex } from './live-index.ts';

/** Swaps segments `seqs` (a run, in order) for `seg`; false (nothing changed) when it does not hold their rows. */
export function replaceSegments(live: LiveIndex, seqs: readonly number[], seg: SegmentRecord): boolean {
  const segs = live.segments;
  const at = segs.findIndex((s) => s.seq === seqs[0]);
  const run = at < 0 ? [] : segs.slice(at, at + seqs.length);
  if (run.length !== seqs.length || run.some((s, i) => s.seq !== seqs[i])) return false;
  let k = 0;
  for (const s of run) for (let i = 0; i < s.keys.length; i++) if (seg.keys[k++] !== s.keys[i]) return false;
  const rows = run.reduce((n, s) => n + s.rows, 0);
  if (k !== seg.keys.length || rows !== seg.rowDoc.length) return false;
  if (run.some((s) => !!s.bm25 !== !!seg.bm25 || !!s.sparse !== !!seg.sparse)) return false;
  const { rowBase } = run[0];
  const { keys, rowDoc, rowSpans, sparse, colbert, bm25 } = seg;
  segs.splice(at, run.length, { seq: seg.seq, rowBase, rows, keys, rowDoc, rowSpans, sparse, colbert, bm25 });
  live.sparseSegments = segs.filter((s) => s.sparse).map((s) => ({ rowBase: s.rowBase, rows: s.rows, sparse: s.sparse! }));
  live.resetBm25();
  return true;
}

/**
 * Another tab's commit removed segments: `added` (key order) swapped in where each is a merge of a run of
 * `gone`, appended where it follows every key. False where anything else happened (a compaction, a clear):
 * the caller rebuilds.
 */
export function applyMerges(live: LiveIndex, gone: Set<number>, added: SegmentRecord[]): boolean {
  let maxKey = -1;
  for (const s of live.segments) if (s.keys.length) maxKey = Math.max(maxKey, s.keys[s.keys.length - 1]);
  for (const seg of added) {
    const at = live.segments.findIndex((s) => gone.has(s.seq) && s.keys[0] === seg.keys[0]);
    if (at >= 0) {
      const run: number[] = [];
      for (let i = at, docs = 0; i < live.segments.length && gone.has(live.segments[i].seq) && docs < seg.keys.length; i++) {
        run.push(live.segments[i].seq);
        docs += live.segments[i].keys.length;
      }
      if (!replaceSegments(live, run, seg)) return false;
      for (const s of run) gone.delete(s);
    } else if (!seg.keys.length || seg.keys[0] > maxKey) live.appendSegment(seg);
    else return false;
  }
  return gone.size === 0;
}
