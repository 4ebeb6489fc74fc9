/** Compressed ColBERT MaxSim: the table form equals MaxSim over the decoded codes, and tracks int8 MaxSim. */
import { describe, expect, it } from 'vitest';
import { quantizeInt8Batch } from '../rank/dense-scan.ts';
import type { ColbertBlock } from '../store/types.ts';
import { maxSim } from './colbert.ts';
import { compressColbert, compressedMaxSim, compressedVectorBytes, prepareCompressedQuery, type CompressedColbertBlock } from './colbert-compressed.ts';
import { mulberry32 as rng } from '../util/random.ts';

function gaussRows(n: number, dims: number, r: () => number): Float32Array {
  const m = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let x = 0; x < dims; x++) ss += (m[i * dims + x] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())) ** 2;
    for (let x = 0; x < dims; x++) m[i * dims + x] /= Math.sqrt(ss);
  }
  return m;
}

function int8Block(rowsPerDoc: number[], dims: number, r: () => number): ColbertBlock {
  const total = rowsPerDoc.reduce((a, b) => a + b, 0);
  const { codes, scales } = quantizeInt8Batch(gaussRows(total, dims, r), dims);
  const rowOffsets = new Uint32Array(rowsPerDoc.length + 1);
  rowsPerDoc.forEach((n, i) => (rowOffsets[i + 1] = rowOffsets[i] + n));
  return { dims, rowOffsets, codes, scales };
}

/** Decodes vector j bit by bit (written apart from the table form) and takes plain float64 MaxSim. */
function decodedMaxSim(q: Float32Array, b: CompressedColbertBlock, row: number): number {
  const { dims, bits } = b;
  const nq = q.length / dims;
  const c = ((1 << bits) - 1) / 2;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = b.rowOffsets[row]; j < b.rowOffsets[row + 1]; j++) {
      let dot = 0;
      for (let x = 0; x < dims; x++) {
        let code = 0;
        for (let p = 0; p < bits; p++) if (b.planes[(j * (bits * dims)) / 8 + (p * dims) / 8 + Math.floor(x / 8)] & (1 << (x % 8))) code += 2 ** p;
        dot += q[i * dims + x] * (code - c) * b.steps[j];
      }
      best = Math.max(best, dot);
    }
    total += best;
  }
  return total / nq;
}

describe('compressed ColBERT', () => {
  it.each([
    [1, 64],
    [2, 64],
    [4, 32],
    [1, 1024],
  ])('%i bit(s), %i dims: table MaxSim = MaxSim of the decoded codes; empty rows score 0', (bits, dims) => {
    const r = rng(bits * 97 + dims);
    const block = int8Block([5, 0, 12, 1], dims, r);
    const c = compressColbert(block, bits);
    expect(c.planes.length).toBe((block.scales.length * bits * dims) / 8);
    const q = gaussRows(3, dims, r);
    const pq = prepareCompressedQuery(q, dims);
    for (let row = 0; row < 4; row++) {
      const got = compressedMaxSim(pq, c, row);
      if (row === 1) expect(got).toBe(0);
      else expect(got).toBeCloseTo(decodedMaxSim(q, c, row), 5);
    }
  });

  it('more bits track int8 MaxSim more closely; 1 bit is 1/8 of int8 plus a step', () => {
    const dims = 256;
    const r = rng(5);
    const block = int8Block(
      Array.from({ length: 40 }, () => 8),
      dims,
      r,
    );
    const q = gaussRows(4, dims, r);
    const err = (bits: number) => {
      const c = compressColbert(block, bits);
      const pq = prepareCompressedQuery(q, dims);
      let e = 0;
      for (let row = 0; row < 40; row++) e += Math.abs(compressedMaxSim(pq, c, row) - maxSim(q, dims, block, row));
      return e / 40;
    };
    const [e1, e2, e4] = [err(1), err(2), err(4)];
    expect(e2).toBeLessThan(e1);
    expect(e4).toBeLessThan(e2);
    expect(e4).toBeLessThan(0.01);
    expect(compressedVectorBytes(1024, 1)).toBe(1024 / 8 + 4);
  });

  it('refuses bit widths and dims it cannot code', () => {
    const block = int8Block([2], 16, rng(1));
    expect(() => compressColbert(block, 3)).toThrow(/bits must be 1, 2 or 4/);
    expect(() => compressColbert({ ...block, dims: 12, codes: block.codes.subarray(0, 24) }, 1)).toThrow(/divisible by 8/);
  });
});
