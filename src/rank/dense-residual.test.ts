import { describe, expect, it } from 'vitest';
import { DenseMatrix, quantizeInt8Batch, REFINE_MIN } from './dense-scan.ts';
import { randomRows } from './dense-scan-reference.ts';
import { encodeResidualInto, RESIDUAL_STEPS, residualBytes, residualDot } from './dense-residual.ts';

const DIM = 96;

function residuals(vecs: Float32Array, codes: Int8Array, scales: Float32Array, dim: number): Uint8Array {
  const n = scales.length;
  const out = new Uint8Array(n * residualBytes(dim));
  for (let r = 0; r < n; r++) encodeResidualInto(vecs.subarray(r * dim, (r + 1) * dim), codes, r * dim, scales[r], dim, out, r * residualBytes(dim));
  return out;
}

function exactTop(vecs: Float32Array, q: Float32Array, dim: number, k: number): number[] {
  const n = vecs.length / dim;
  const s = new Float64Array(n);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) s[r] += vecs[r * dim + i] * q[i];
  return [...s.keys()].sort((a, b) => s[b] - s[a] || a - b).slice(0, k);
}

function matrices(vecs: Float32Array, dim: number) {
  const { codes, scales } = quantizeInt8Batch(vecs, dim);
  const plain = new DenseMatrix(dim);
  plain.append(codes, scales);
  const refined = new DenseMatrix(dim);
  refined.append(codes, scales, residuals(vecs, codes, scales, dim));
  return { plain, refined, codes, scales };
}

describe('dense residual', () => {
  it('reads a row back within scale/16 per dimension, odd dims included', () => {
    for (const dim of [DIM, 7]) {
      const vecs = randomRows(50, dim, 3);
      const { codes, scales } = quantizeInt8Batch(vecs, dim);
      const res = residuals(vecs, codes, scales, dim);
      expect(res.length).toBe(50 * residualBytes(dim));
      let worstInt8 = 0;
      let worst = 0;
      for (let r = 0; r < 50; r++) {
        for (let i = 0; i < dim; i++) {
          // One-hot query: residualDot picks out dimension i's residual.
          const q = new Float32Array(dim);
          q[i] = 1;
          const back = scales[r] * (codes[r * dim + i] + residualDot(q, res, r * residualBytes(dim), dim) / RESIDUAL_STEPS);
          const x = vecs[r * dim + i];
          worst = Math.max(worst, Math.abs(back - x) / scales[r]);
          worstInt8 = Math.max(worstInt8, Math.abs(codes[r * dim + i] * scales[r] - x) / scales[r]);
        }
      }
      expect(worst).toBeLessThanOrEqual(1 / RESIDUAL_STEPS + 1e-6);
      expect(worstInt8).toBeGreaterThan(0.4); // the int8 code alone is ~8× coarser
    }
  });

  it('re-ranks the int8 top rows: scores near the exact dot products, top-10s closer to fp32', () => {
    const n = 3000;
    const vecs = randomRows(n, DIM, 11);
    const { plain, refined } = matrices(vecs, DIM);
    expect(refined.refines).toBe(true);
    expect(plain.refines).toBe(false);
    const queries = randomRows(60, DIM, 12);
    let agreePlain = 0;
    let agreeRefined = 0;
    for (let j = 0; j < 60; j++) {
      const q = queries.subarray(j * DIM, (j + 1) * DIM);
      const exact = exactTop(vecs, q, DIM, 10);
      const a = plain.search(q, 10, { firstStage: 'int8' });
      const b = refined.search(q, 10, { firstStage: 'int8' });
      if (Array.from(a.rows).every((r) => exact.includes(r))) agreePlain++;
      if (Array.from(b.rows).every((r) => exact.includes(r))) agreeRefined++;
      for (let i = 0; i < b.rows.length; i++) {
        let dot = 0;
        for (let d = 0; d < DIM; d++) dot += vecs[b.rows[i] * DIM + d] * q[d];
        expect(Math.abs(b.scores[i] - dot)).toBeLessThan(2e-3);
        if (i) expect(b.scores[i]).toBeLessThanOrEqual(b.scores[i - 1]);
      }
      // refine: false is the int8 ranking, as a matrix without residuals gives it.
      const off = refined.search(q, 10, { firstStage: 'int8', refine: false });
      expect(Array.from(off.rows)).toEqual(Array.from(a.rows));
      expect(Array.from(off.scores)).toEqual(Array.from(a.scores));
      // scoreRows refines too.
      expect(Array.from(refined.scoreRows(q, b.rows))).toEqual(Array.from(b.scores));
    }
    expect(agreeRefined).toBeGreaterThanOrEqual(57);
    expect(agreeRefined).toBeGreaterThan(agreePlain);
  });

  it('returns k rows when k is above REFINE_MIN, and fewer when fewer rows are live', () => {
    const vecs = randomRows(80, DIM, 5);
    const { refined } = matrices(vecs, DIM);
    const q = randomRows(1, DIM, 6);
    expect(refined.search(q, REFINE_MIN + 8).rows.length).toBe(REFINE_MIN + 8);
    for (let r = 0; r < 75; r++) refined.removeRow(r);
    const hits = refined.search(q, 10);
    expect(Array.from(hits.rows).sort((a, b) => a - b)).toEqual([75, 76, 77, 78, 79]);
  });

  it('keeps rows aligned: rows appended without residuals read as int8, compact and setRow move or reset them', () => {
    const vecs = randomRows(40, DIM, 8);
    const { codes, scales } = quantizeInt8Batch(vecs, DIM);
    const res = residuals(vecs, codes, scales, DIM);
    const m = new DenseMatrix(DIM);
    m.append(codes.subarray(0, 20 * DIM), scales.subarray(0, 20)); // no residuals yet
    m.append(codes.subarray(20 * DIM), scales.subarray(20), res.subarray(20 * residualBytes(DIM)));
    const q = randomRows(1, DIM, 9);
    const int8 = new DenseMatrix(DIM);
    int8.append(codes, scales);
    const exactInt8 = (r: number) => Math.fround(int8.getRow(r).codes.reduce((s, c, i) => s + c * q[i], 0) * scales[r]);
    expect(m.scoreRows(q, [3])[0]).toBe(exactInt8(3));
    expect(m.scoreRows(q, [25])[0]).not.toBe(exactInt8(25));
    const before = m.scoreRows(q, [30])[0];
    m.removeRow(0);
    m.removeRow(21);
    const map = m.compact();
    expect(m.scoreRows(q, [map[30]])[0]).toBe(before);
    m.setRow(map[30], codes.subarray(30 * DIM, 31 * DIM), scales[30]);
    expect(m.scoreRows(q, [map[30]])[0]).toBe(exactInt8(30));
    expect(() => m.append(codes.subarray(0, DIM), scales.subarray(0, 1), new Uint8Array(3))).toThrow(/residual bytes/);
  });
});
