import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTermPositions } from '../rank/term-stats.ts';
import { segmentProblem } from './segment-check.ts';
import { buildSegment, type PreparedDoc } from './segment-builder.ts';
import { concatSegments, mergeSegments } from './segment-merge.ts';
import { forEachSparseEntry, forEachSparseList } from './sparse-postings.ts';
import type { SegmentRecord } from './types.ts';

const DIMS = 8;
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];

/** A segment of `n` documents from key `key0`, texts and vectors drawn from `rnd`; `chunk`: two rows a doc. */
function segment(seq: number, key0: number, n: number, rnd: () => number, chunk = false): SegmentRecord {
  const docs: PreparedDoc[] = [];
  for (let i = 0; i < n; i++) {
    const text = Array.from({ length: 1 + Math.floor(rnd() * 30) }, () => WORDS[Math.floor(rnd() * rnd() * WORDS.length)]).join(' ');
    const row = () => {
      const ids = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => Math.floor(rnd() * rnd() * 300)))].sort((a, b) => a - b);
      return {
        dense: Float32Array.from({ length: DIMS }, () => rnd() - 0.5),
        sparse: { ids: Uint32Array.from(ids), weights: Float32Array.from(ids, () => 0.01 + rnd()) },
      };
    };
    const rows = chunk
      ? [
          { ...row(), span: [0, 3] as [number, number] },
          { ...row(), span: [3, 7] as [number, number] },
        ]
      : [row()];
    docs.push({ key: key0 + i, id: `d${key0 + i}`, metadata: i % 3 ? null : { i }, rows, bm25: analyzeTermPositions(text) });
  }
  return buildSegment(seq, docs, { dims: DIMS, colbert: false });
}

/** Every sparse entry as [token, row, dequantised weight], by token then row. */
function sparseEntries(s: SegmentRecord, rowBase = 0): [number, number, number][] {
  const out: [number, number, number][] = [];
  forEachSparseList(s.sparse!, (token, a, b) => forEachSparseEntry(s.sparse!, a, b, (r, q) => out.push([token, rowBase + r, q * s.sparse!.scale])));
  return out;
}

describe('concatSegments (tiered merging)', () => {
  it('keeps every row, id, key and vector, and writes the BM25 block the per-document path writes, byte for byte (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), fc.integer(), fc.boolean(), (sizes, seed, chunk) => {
        let x = seed >>> 0 || 1;
        const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
        let key = 0;
        const parts = sizes.map((n, j) => {
          const s = segment(j, key, n, rnd, chunk && j % 2 === 0);
          key += n;
          return s;
        });
        const fast = concatSegments(99, parts, DIMS)!;
        const slow = mergeSegments(99, parts, () => true, DIMS);
        expect(segmentProblem(fast, DIMS)).toBeNull();
        for (const f of ['keys', 'ids', 'metadata', 'rowDoc', 'rowSpans', 'dense', 'bm25'] as const) expect(fast[f]).toEqual(slow[f]);
        // Sparse: the same entries; weights exact where the parts share a scale, else within half a step of the largest.
        const want = parts
          .flatMap((p, j) =>
            sparseEntries(
              p,
              parts.slice(0, j).reduce((n, q) => n + q.rowDoc.length, 0),
            ),
          )
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const got = sparseEntries(fast);
        expect(got.map((e) => [e[0], e[1]])).toEqual(want.map((e) => [e[0], e[1]]));
        const step = fast.sparse!.scale;
        got.forEach((e, i) => expect(Math.abs(e[2] - want[i][2])).toBeLessThanOrEqual(step / 2 + 1e-7));
      }),
      { numRuns: 60 },
    );
  });

  it('copies sparse weights exactly when the parts share one scale; refuses what it cannot concatenate', () => {
    let x = 5;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const a = segment(0, 0, 20, rnd);
    const b = segment(1, 20, 20, rnd);
    b.sparse = { ...b.sparse!, scale: a.sparse!.scale };
    const merged = concatSegments(2, [a, b], DIMS)!;
    expect(sparseEntries(merged)).toEqual([...sparseEntries(a), ...sparseEntries(b, a.rowDoc.length)].sort((p, q) => p[0] - q[0] || p[1] - q[1]));
    expect(concatSegments(2, [a, { ...b, bm25: null }], DIMS)).toBeNull();
    expect(
      concatSegments(2, [a, { ...b, colbert: { dims: DIMS, rowOffsets: new Uint32Array(21), codes: new Int8Array(0), scales: new Float32Array(0) } }], DIMS),
    ).toBeNull();
  });
});
