/**
 * Learned-sparse scoring over the segments' coded postings (store/postings.ts), term-at-a-time:
 * for each query token, each segment's posting list (found by binary search over its sorted token
 * dictionary, then decoded in place) adds w_q · w_d into a Float32Array indexed by global row. Exact M3 lexical score (up to the
 * uint8 quantisation of w_d) for every row that shares a token with the query; 0 for the rest.
 */
import type { SparseBlock } from '../store/types.ts';
import type { SparseWeights } from '../encoder/types.ts';
import { findSparseList, forEachSparseEntry } from '../store/sparse-postings.ts';

export interface SparseSegment {
  rowBase: number;
  sparse: SparseBlock;
}

export class SparseAccumulator {
  private acc = new Float32Array(0);
  private touched = new Uint32Array(0);
  private n = 0;
  private readonly list = { pos: 0, end: 0 };

  /**
   * Scores every row sharing a token with the query. Returns the touched rows (a view valid until the
   * next call) with their scores in `score(row)`.
   */
  run(query: SparseWeights, segments: readonly SparseSegment[], totalRows: number): Uint32Array {
    this.reset();
    if (this.acc.length < totalRows) {
      const cap = Math.max(totalRows, this.acc.length * 2);
      this.acc = new Float32Array(cap);
      this.touched = new Uint32Array(cap);
    }
    const { acc, touched } = this;
    let n = 0;
    for (const seg of segments) {
      const { postings, scale } = seg.sparse;
      const list = this.list;
      for (let q = 0; q < query.ids.length; q++) {
        const wq = query.weights[q];
        if (!(wq > 0)) continue;
        if (!findSparseList(seg.sparse, query.ids[q], list)) continue;
        const f = wq * scale;
        let row = seg.rowBase;
        // Gap varints inlined (postings.ts): one byte for gaps < 128, the usual case.
        for (let p = list.pos, end = list.end; p < end; ) {
          let b = postings[p++];
          let gap = b & 0x7f;
          for (let shift = 7; b >= 0x80; shift += 7) {
            b = postings[p++];
            gap |= (b & 0x7f) << shift;
          }
          row += gap;
          const w = postings[p++];
          // A weight quantised to 0 adds nothing; skipping it keeps 0 = not yet touched, so each row is listed
          // once (listing it again overran `touched`, sized to the rows, and dropped later rows).
          if (w === 0) continue;
          if (acc[row] === 0) touched[n++] = row; // contributions are > 0, so 0 = not yet touched
          acc[row] += f * w;
        }
      }
    }
    this.n = n;
    return touched.subarray(0, n);
  }

  score(row: number): number {
    return row < this.acc.length ? this.acc[row] : 0;
  }

  private reset(): void {
    for (let i = 0; i < this.n; i++) this.acc[this.touched[i]] = 0;
    this.n = 0;
  }
}

/** The stored (dequantised) weight of `token` in segment-local `row`, or 0. */
export function docWeight(sparse: SparseBlock, token: number, row: number): number {
  const list = { pos: 0, end: 0 };
  if (!findSparseList(sparse, token, list)) return 0;
  let q = 0;
  forEachSparseEntry(sparse, list.pos, list.end, (r, w) => {
    if (r === row) q = w;
  });
  return q * sparse.scale;
}
