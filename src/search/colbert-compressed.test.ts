/**
 * Bit-coded ColBERT blocks: the WASM path (unpack + dots) and the JS table path give the same scores, both
 * equal MaxSim over the decoded vectors, more bits track the float MaxSim more closely, and the builder
 * writes them (1 bit: 1/8 of int8) and re-codes on compaction.
 */
import { describe, expect, it } from 'vitest';
import { bitsStep, colbertVectorBytes, decodeColbertVector } from '../store/colbert-bits.ts';
import { buildSegment, type PreparedDoc } from '../store/segment-builder.ts';
import { mergeSegments } from '../store/segment-merge.ts';
import { segmentProblem } from '../store/segment-check.ts';
import type { ColbertBitsBlock, ColbertBits, ColbertBlock } from '../store/types.ts';
import { mulberry32 as rng } from '../util/random.ts';
import { MaxSimScorer, prepareColbertQuery } from './colbert.ts';

function gaussRows(n: number, dims: number, r: () => number): Float32Array {
  const m = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let x = 0; x < dims; x++) ss += (m[i * dims + x] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())) ** 2;
    for (let x = 0; x < dims; x++) m[i * dims + x] /= Math.sqrt(ss);
  }
  return m;
}

/** One document per entry of rowsPerDoc, each with that many ColBERT vectors, in a segment coded with `bits`. */
function segment(rowsPerDoc: number[], dims: number, bits: ColbertBits, r: () => number, key0 = 0) {
  const floats = rowsPerDoc.map((n) => gaussRows(n, dims, r));
  const docs: PreparedDoc[] = floats.map((c, i) => ({ key: key0 + i, id: `d${key0 + i}`, metadata: null, rows: [{ colbert: c }] }));
  return { seg: buildSegment(0, docs, { dims, colbert: true, colbertBits: bits }), floats };
}

/** Float64 MaxSim of the float query against the block's decoded vectors (decodeColbertVector, bit by bit). */
function decodedMaxSim(q: Float32Array, b: ColbertBlock, row: number): number {
  const { dims } = b;
  const nq = q.length / dims;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = b.rowOffsets[row]; j < b.rowOffsets[row + 1]; j++) {
      const d = decodeColbertVector(b, j);
      let dot = 0;
      for (let x = 0; x < dims; x++) dot += q[i * dims + x] * d[x];
      best = Math.max(best, dot);
    }
    total += best;
  }
  return total / nq;
}

/** Float64 MaxSim against the original float vectors of document `row`. */
function floatMaxSim(q: Float32Array, d: Float32Array, dims: number): number {
  const nq = q.length / dims;
  const m = d.length / dims;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let x = 0; x < dims; x++) dot += q[i * dims + x] * d[j * dims + x];
      best = Math.max(best, dot);
    }
    total += best;
  }
  return total / nq;
}

describe('bit-coded ColBERT', () => {
  it.each([
    [1, 1024, 8],
    [2, 64, 3],
    [4, 32, 5],
    [1, 48, 1],
    [2, 24, 4], // dims not a multiple of 16: the JS path on both scorers
  ] as const)('%i bit(s), %i dims, %i query vectors: WASM = JS tables exactly, = MaxSim of the decoded vectors', (bits, dims, nq) => {
    const r = rng(bits * 97 + dims);
    const { seg } = segment([5, 0, 12, 1, 70], dims, bits, r);
    const b = seg.colbert as ColbertBitsBlock;
    expect(b.codec).toBe('bits');
    expect(b.planes.length).toBe((88 * bits * dims) / 8);
    expect(b.steps.length).toBe(bits === 1 ? 1 : 88);
    expect(segmentProblem(seg, dims)).toBeNull();
    const q = gaussRows(nq, dims, r);
    const prepared = prepareColbertQuery(q, dims);
    const wasm = new MaxSimScorer();
    const js = new MaxSimScorer(false);
    wasm.setQuery(prepared);
    js.setQuery(prepared);
    for (let row = 0; row < 5; row++) {
      const a = wasm.score(b, row);
      expect(a).toBe(js.score(b, row));
      if (row === 1) expect(a).toBe(0);
      else expect(Math.abs(a - decodedMaxSim(q, b, row))).toBeLessThan(1e-4 * bitsStep(b, 0) * dims);
    }
  });

  it('more bits track float MaxSim more closely; 1 bit is 1/8 of int8', () => {
    const dims = 256;
    const r = rng(5);
    const rows = Array.from({ length: 40 }, () => 8);
    const q = gaussRows(4, dims, r);
    const err = (bits: ColbertBits) => {
      const { seg, floats } = segment(rows, dims, bits, rng(9));
      const s = new MaxSimScorer();
      s.setQuery(prepareColbertQuery(q, dims));
      let e = 0;
      for (let row = 0; row < 40; row++) e += Math.abs(s.score(seg.colbert!, row) - floatMaxSim(q, floats[row], dims));
      return e / 40;
    };
    const [e1, e2, e4, e8] = [err(1), err(2), err(4), err(8)];
    expect(e2).toBeLessThan(e1);
    expect(e4).toBeLessThan(e2);
    expect(e8).toBeLessThan(e4);
    expect(e1).toBeLessThan(0.05);
    expect(colbertVectorBytes(1024, 1) * 8).toBeLessThanOrEqual(colbertVectorBytes(1024, 8));
    expect(colbertVectorBytes(1024, 2)).toBe(260);
  });

  it('compaction copies codes of the same width and re-codes others; the builder refuses dims it cannot code', () => {
    const dims = 32;
    const a = segment([3, 2], dims, 1, rng(1)).seg;
    const b = segment([4], dims, 8, rng(2), 10).seg;
    const merged = mergeSegments(5, [a, b], (k) => k !== 1, dims, 1);
    const c = merged.colbert as ColbertBitsBlock;
    expect(c.codec).toBe('bits');
    expect(Array.from(c.rowOffsets)).toEqual([0, 3, 7]);
    const ac = a.colbert as ColbertBitsBlock;
    expect(Array.from(c.planes.subarray(0, 12))).toEqual(Array.from(ac.planes.subarray(0, 12))); // copied
    // The int8 document's signs survive re-coding.
    const int8 = decodeColbertVector(b.colbert!, 0);
    const recoded = decodeColbertVector(c, 3);
    for (let x = 0; x < dims; x++) if (int8[x] !== 0) expect(Math.sign(recoded[x])).toBe(Math.sign(int8[x]));
    expect(c.steps[0]).toBeGreaterThan(0);
    const back = mergeSegments(6, [merged], () => true, dims, 8);
    expect(back.colbert!.codec).toBeUndefined();
    expect(segmentProblem(back, dims)).toBeNull();
    expect(() => segment([1], 12, 1, rng(3))).toThrow(/multiple of 8/);
  });

  it('the segment check refuses bad widths, plane counts, step counts and codecs', () => {
    const { seg } = segment([2, 3], 16, 2, rng(4));
    const b = seg.colbert as ColbertBitsBlock;
    const with_ = (c: object) => segmentProblem({ ...seg, colbert: { ...b, ...c } as ColbertBlock }, 16);
    expect(with_({ bits: 3 })).toMatch(/bits per dimension/);
    expect(with_({ planes: b.planes.subarray(1) })).toMatch(/plane bytes/);
    expect(with_({ steps: b.steps.subarray(1) })).toMatch(/steps/);
    expect(with_({ steps: Float32Array.from(b.steps, () => NaN) })).toMatch(/finite/);
    expect(with_({ codec: 'pq' })).toMatch(/codec "pq"/);
    expect(with_({ dims: 12 })).toMatch(/multiple of 8/);
  });
});
