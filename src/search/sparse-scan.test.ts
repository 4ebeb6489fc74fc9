/** Learned-sparse accumulation over CSR segments against a plain float64 dot product of the stored weights. */
import { describe, expect, it } from 'vitest';
import type { SparseBlock } from '../store/types.ts';
import { encodeSparse } from '../store/sparse-postings.ts';
import { docWeight, SparseAccumulator, type SparseSegment } from './sparse-scan.ts';
import { mulberry32 } from '../util/random.ts';

/** A segment's CSR block from per-row {token: uint8 code}, written out here (coded by postings.ts, not by the segment builder). */
function block(rows: Record<number, number>[], scale: number): SparseBlock {
  const tokens = [...new Set(rows.flatMap((r) => Object.keys(r).map(Number)))].sort((a, b) => a - b);
  const offsets = [0];
  const rowList: number[] = [];
  const weights: number[] = [];
  for (const t of tokens) {
    rows.forEach((r, i) => {
      if (r[t] !== undefined) rowList.push(i), weights.push(r[t]);
    });
    offsets.push(rowList.length);
  }
  return encodeSparse(Uint32Array.from(tokens), offsets, rowList, weights, scale);
}

/** Σ_t w_q(t) · code_d(t) · scale in float64. */
function refScore(q: { ids: number[]; weights: number[] }, row: Record<number, number>, scale: number): number {
  let s = 0;
  q.ids.forEach((id, i) => {
    if (q.weights[i] > 0 && row[id] !== undefined) s += q.weights[i] * row[id] * scale;
  });
  return s;
}

describe('SparseAccumulator', () => {
  it('scores every row sharing a token with the query, across segments, and nothing else', () => {
    const r = mulberry32(4);
    const segRows = [0, 1, 2].map(() =>
      Array.from({ length: 40 }, () => {
        const row: Record<number, number> = {};
        for (let j = 0; j < 6; j++) row[10 + Math.floor(r() * 60)] = 1 + Math.floor(r() * 255);
        return row;
      }),
    );
    const scales = [0.4 / 255, 0.3 / 255, 0.5 / 255];
    const segments: SparseSegment[] = segRows.map((rows, s) => ({ rowBase: s * 40, sparse: block(rows, scales[s]) }));
    const acc = new SparseAccumulator();
    for (let qn = 0; qn < 20; qn++) {
      const ids = [...new Set(Array.from({ length: 5 }, () => 10 + Math.floor(r() * 70)))].sort((a, b) => a - b); // some ids match nothing
      const q = { ids, weights: ids.map((_, i) => (i === 0 ? 0 : i === 1 ? -0.2 : r() * 0.4)) }; // 0 and negative weights count for nothing
      const touched = Array.from(acc.run({ ids: Uint32Array.from(q.ids), weights: Float32Array.from(q.weights) }, segments, 120));
      const want: number[] = [];
      segRows.forEach((rows, s) => rows.forEach((row, i) => refScore(q, row, scales[s]) > 0 && want.push(s * 40 + i)));
      expect([...touched].sort((a, b) => a - b)).toEqual(want);
      expect(new Set(touched).size).toBe(touched.length); // each row once
      for (let row = 0; row < 120; row++) {
        const s = Math.floor(row / 40);
        const ref = refScore(q, segRows[s][row % 40], scales[s]);
        expect(Math.abs(acc.score(row) - ref)).toBeLessThanOrEqual(1e-6 * Math.max(ref, 1e-3)); // float32 accumulator
        if (ref === 0) expect(acc.score(row)).toBe(0); // the previous query's scores are gone
      }
    }
    expect(acc.score(120)).toBe(0); // the first row beyond the accumulator (sized to the 120 rows)
    expect(acc.score(10_000)).toBe(0);
  });

  it('grows for more rows and keeps working; an empty query touches nothing', () => {
    const acc = new SparseAccumulator();
    const small: SparseSegment[] = [{ rowBase: 0, sparse: block([{ 5: 10 }, { 6: 20 }], 0.01) }];
    expect(Array.from(acc.run({ ids: Uint32Array.of(5), weights: Float32Array.of(1) }, small, 2))).toEqual([0]);
    expect(acc.score(0)).toBeCloseTo(0.1, 6);
    const big: SparseSegment[] = [
      { rowBase: 0, sparse: block([{ 5: 10 }], 0.01) },
      { rowBase: 5000, sparse: block([{}, { 5: 255, 7: 1 }], 0.02) },
    ];
    expect(Array.from(acc.run({ ids: Uint32Array.of(5, 7), weights: Float32Array.of(0.5, 2) }, big, 5002))).toEqual([0, 5001]);
    expect(acc.score(0)).toBeCloseTo(0.05, 6);
    expect(acc.score(5001)).toBeCloseTo(0.5 * 255 * 0.02 + 2 * 0.02, 6);
    expect(acc.score(1)).toBe(0);
    expect(Array.from(acc.run({ ids: new Uint32Array(0), weights: new Float32Array(0) }, big, 5002))).toEqual([]);
    expect(acc.score(5001)).toBe(0);
  });
  it('lists each scored row once and loses none when entries weigh 0 (quantised to nothing)', () => {
    // Every row holds token 1 at weight 0 and token 2 at weight 0 or 9: listing a row once per 0-weight entry
    // overran `touched` (sized to the rows) and dropped the last rows' scores.
    const rows = Array.from({ length: 50 }, (_, i) => ({ 1: 0, 2: i % 3 === 0 ? 0 : 9 }));
    const acc = new SparseAccumulator();
    const touched = Array.from(acc.run({ ids: Uint32Array.of(1, 2), weights: Float32Array.of(0.3, 0.2) }, [{ rowBase: 0, sparse: block(rows, 0.01) }], 50));
    const want = rows.flatMap((r, i) => (r[2] > 0 ? [i] : []));
    expect(touched).toEqual(want);
    for (const row of want) expect(acc.score(row)).toBe(Math.fround(Math.fround(0.2) * 0.01 * 9));
  });
});

describe('docWeight', () => {
  it('is the stored weight of (token, row), dequantised, or 0', () => {
    const rows: Record<number, number>[] = [{ 3: 10, 9: 200 }, { 9: 7 }, {}, { 3: 255, 4: 1, 9: 1 }];
    const b = block(rows, 0.002);
    for (let row = 0; row < rows.length; row++)
      for (const t of [1, 3, 4, 9, 12]) expect(docWeight(b, t, row)).toBe(rows[row][t] === undefined ? 0 : rows[row][t] * 0.002);
  });
});

describe('row gaps of every varint width', () => {
  it('rows 1, 2 and 3 varint bytes apart decode to the right rows and scores (accumulator and docWeight)', () => {
    // Populated rows chosen so that successive gaps in a token's list need 1, 2 and 3 varint bytes
    // (< 128, < 16,384, ≥ 16,384); every other row is empty.
    const populated = [0, 1, 127, 128, 300, 16_683, 16_684, 40_000, 60_000];
    const n = 60_001;
    const rows: Record<number, number>[] = Array.from({ length: n }, () => ({}));
    populated.forEach((row, i) => {
      rows[row][5] = 10 + i;
      if (i % 2 === 0) rows[row][9] = 200 - i;
    });
    const scale = 0.25 / 255;
    const seg: SparseSegment = { rowBase: 7, sparse: block(rows, scale) };
    const acc = new SparseAccumulator();
    const q = { ids: [5, 9], weights: [0.5, 0.25] };
    const touched = Array.from(acc.run({ ids: Uint32Array.from(q.ids), weights: Float32Array.from(q.weights) }, [seg], n + 7)).sort((a, b) => a - b);
    expect(touched).toEqual(populated.map((r) => r + 7));
    for (const row of populated) {
      const ref = refScore(q, rows[row], scale);
      expect(Math.abs(acc.score(row + 7) - ref)).toBeLessThanOrEqual(1e-6 * ref); // float32 accumulator; measured ≤ 6e-8 relative
      expect(docWeight(seg.sparse, 5, row)).toBeCloseTo(rows[row][5] * scale, 12);
      expect(docWeight(seg.sparse, 9, row)).toBe(rows[row][9] === undefined ? 0 : rows[row][9] * scale);
    }
    for (const row of [2, 129, 16_682, 59_999]) expect(acc.score(row + 7)).toBe(0);
  });
});
