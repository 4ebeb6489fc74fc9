/** ColBERT MaxSim: the WASM kernel and the JS fallback agree exactly, and both match float MaxSim closely. */
import { describe, expect, it } from 'vitest';
import { dotsKernelSupported } from '../rank/colbert-wasm.ts';
import { quantizeInt8Batch } from '../rank/dense-scan.ts';
import type { ColbertInt8Block } from '../store/types.ts';
import { MaxSimScorer, maxSim, prepareColbertQuery } from './colbert.ts';
import { mulberry32 as rng } from '../util/random.ts';

function unitRows(n: number, dims: number, r: () => number): Float32Array {
  const m = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let x = 0; x < dims; x++) ss += (m[i * dims + x] = r() - 0.5) ** 2;
    for (let x = 0; x < dims; x++) m[i * dims + x] /= Math.sqrt(ss);
  }
  return m;
}

function block(rowsPerDoc: number[], dims: number, r: () => number): { block: ColbertInt8Block; floats: Float32Array } {
  const total = rowsPerDoc.reduce((a, b) => a + b, 0);
  const floats = unitRows(total, dims, r);
  const { codes, scales } = quantizeInt8Batch(floats, dims);
  const rowOffsets = new Uint32Array(rowsPerDoc.length + 1);
  rowsPerDoc.forEach((n, i) => (rowOffsets[i + 1] = rowOffsets[i] + n));
  return { block: { dims, rowOffsets, codes, scales }, floats };
}

/** M3's formula on the stored int8 rows with the float query. */
function floatMaxSim(q: Float32Array, b: ColbertInt8Block, row: number): number {
  const nq = q.length / b.dims;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = b.rowOffsets[row]; j < b.rowOffsets[row + 1]; j++) {
      let dot = 0;
      for (let x = 0; x < b.dims; x++) dot += q[i * b.dims + x] * b.codes[j * b.dims + x];
      best = Math.max(best, dot * b.scales[j]);
    }
    total += best;
  }
  return total / nq;
}

describe('ColBERT MaxSim', () => {
  it.each([
    [1024, 8],
    [32, 5],
    [64, 1],
    [24, 13],
    [12, 3],
  ])('kernel = JS fallback exactly, ≈ float MaxSim (dims %i, %i query vectors)', (dims, nq) => {
    const r = rng(dims * 31 + nq);
    const { block: b } = block([16, 1, 0, 40, 7], dims, r);
    const q = unitRows(nq, dims, r);
    const prepared = prepareColbertQuery(q, dims);
    const wasm = new MaxSimScorer();
    const js = new MaxSimScorer(false);
    wasm.setQuery(prepared);
    js.setQuery(prepared);
    for (let row = 0; row < 5; row++) {
      const a = wasm.score(b, row);
      expect(a).toBe(js.score(b, row));
      expect(a).toBe(maxSim(q, dims, b, row));
      if (row === 2)
        expect(a).toBe(0); // no vectors
      else expect(Math.abs(a - floatMaxSim(q, b, row))).toBeLessThan(2e-4);
    }
  });

  it('uses the SIMD kernel on this runtime, and handles rows beyond its first allocation', () => {
    expect(dotsKernelSupported()).toBe(true);
    const dims = 128;
    const r = rng(5);
    const { block: b } = block([3, 700], dims, r);
    const q = unitRows(8, dims, r);
    const s = new MaxSimScorer();
    s.setQuery(prepareColbertQuery(q, dims));
    const big = s.score(b, 1);
    const small = s.score(b, 0);
    const js = new MaxSimScorer(false);
    js.setQuery(prepareColbertQuery(q, dims));
    expect(big).toBe(js.score(b, 1));
    expect(small).toBe(js.score(b, 0));
    // A zero query vector contributes 0.
    const z = new Float32Array(2 * dims);
    z.set(q.subarray(0, dims));
    s.setQuery(prepareColbertQuery(z, dims));
    expect(s.score(b, 0)).toBeCloseTo(floatMaxSim(z, b, 0), 4);
  });
});

describe('ColBERT MaxSim edges', () => {
  it('the query is quantised to int16 within i32 headroom for its dims, each vector with its own scale', () => {
    for (const dims of [8, 1024, 4096]) {
      const r = rng(dims);
      const q = unitRows(3, dims, r);
      q[5] = 0; // any component
      const p = prepareColbertQuery(q, dims);
      const qmax = Math.min(32767, Math.floor(2147483647 / (128 * dims)));
      expect([p.dims, p.nq, p.nq4, p.codes.length, p.scales.length]).toEqual([dims, 3, 4, 4 * dims, 4]);
      for (let i = 0; i < 3; i++) {
        let max = 0;
        for (let x = 0; x < dims; x++) max = Math.max(max, Math.abs(q[i * dims + x]));
        expect(p.scales[i]).toBe(max / qmax);
        let top = 0;
        for (let x = 0; x < dims; x++) {
          const c = p.codes[i * dims + x];
          top = Math.max(top, Math.abs(c));
          expect(Math.abs(c * p.scales[i] - q[i * dims + x])).toBeLessThanOrEqual(p.scales[i] / 2 + 1e-12);
        }
        expect(top).toBe(qmax); // the largest component uses the whole range
      }
      expect(Array.from(p.codes.subarray(3 * dims))).toEqual(new Array(dims).fill(0)); // padding row
      expect(p.scales[3]).toBe(0);
    }
  });

  it('a zero or non-finite query vector contributes 0; an empty query scores 0; misuse is a clear error', () => {
    const dims = 16;
    const r = rng(3);
    const { block: b } = block([4], dims, r);
    const good = unitRows(1, dims, r);
    const q = new Float32Array(3 * dims);
    q.set(good, 0);
    q[dims] = Infinity; // vector 1 unusable
    // vector 2 all zero
    const p = prepareColbertQuery(q, dims);
    expect(Array.from(p.codes.subarray(dims, 3 * dims)).every((c) => c === 0)).toBe(true);
    for (const s of [new MaxSimScorer(), new MaxSimScorer(false)]) {
      s.setQuery(p);
      const only = new MaxSimScorer(false);
      only.setQuery(prepareColbertQuery(good, dims));
      // best dot of vector 0, plus 0 from each of the other two, over 3 vectors
      expect(s.score(b, 0)).toBeCloseTo(only.score(b, 0) / 3, 12);
      s.setQuery(prepareColbertQuery(new Float32Array(0), dims));
      expect(s.score(b, 0)).toBe(0);
    }
    expect(() => new MaxSimScorer().score(b, 0)).toThrow(/setQuery first/);
    const s = new MaxSimScorer();
    s.setQuery(prepareColbertQuery(good, 8));
    expect(() => s.score(b, 0)).toThrow(/prepared for 8 dims, block has 16/);
  });

  it('negative dots: MaxSim takes the largest, even when all are below zero', () => {
    const dims = 8;
    const rows = new Float32Array(2 * dims);
    rows[0] = -1; // row 0 · e0 = -1
    rows[dims] = -0.5; // row 1 · e0 = -0.5
    const { codes, scales } = quantizeInt8Batch(rows, dims);
    const b: ColbertInt8Block = { dims, rowOffsets: Uint32Array.of(0, 2), codes, scales };
    const q = new Float32Array(dims);
    q[0] = 1;
    for (const s of [new MaxSimScorer(), new MaxSimScorer(false)]) {
      s.setQuery(prepareColbertQuery(q, dims));
      expect(s.score(b, 0)).toBeCloseTo(-0.5, 2);
    }
  });
});
