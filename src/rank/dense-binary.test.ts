/**
 * The dense binary first stage (sign bits scanned against the float query, then int8 rescoring):
 * recall on planted queries, equivalence with the exhaustive int8 scan where the candidates cover
 * every allowed row, SIMD = JS, and the sign bits kept in step with the codes through growth,
 * removal, compaction and setRow.
 */
import { describe, expect, it } from 'vitest';
import { BINARY_MIN_ROWS, DenseMatrix, defaultRescore, quantizeInt8Batch } from './dense-scan.ts';
import { signScanModuleBytes, signScanSupported, wasmKernelSupported } from './dense-scan-wasm.ts';
import { mulberry32 as rng } from '../util/random.ts';

function gaussRows(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  const m = new Float32Array(n * dim);
  for (let o = 0; o < m.length; o += dim) {
    let ss = 0;
    for (let i = 0; i < dim; i++) {
      const v = r() + r() + r() + r() - 2;
      m[o + i] = v;
      ss += v * v;
    }
    for (let i = 0; i < dim; i++) m[o + i] /= Math.sqrt(ss);
  }
  return m;
}

/** normalize(0.6 · row t + 0.4 · noise), the bench's planted query. */
function planted(m: Float32Array, dim: number, t: number, seed: number): Float32Array {
  const u = gaussRows(1, dim, seed);
  const q = new Float32Array(dim);
  let ss = 0;
  for (let i = 0; i < dim; i++) {
    q[i] = 0.6 * m[t * dim + i] + 0.4 * u[i];
    ss += q[i] * q[i];
  }
  for (let i = 0; i < dim; i++) q[i] /= Math.sqrt(ss);
  return q;
}

const SIMD = wasmKernelSupported(false);
const kernels = SIMD ? (['simd', 'js'] as const) : (['js'] as const);

describe('sign-scan kernel module', () => {
  it('validates, passes its known-answer check and compiles synchronously (< 4 KiB)', () => {
    expect(signScanSupported()).toBe(SIMD);
    expect(signScanModuleBytes().length).toBeLessThan(4096);
  });
});

describe.each(kernels)('binary first stage (%s kernel)', (kernel) => {
  const dim = 256;
  const n = 3000;
  const m = gaussRows(n, dim, 1);
  const { codes, scales } = quantizeInt8Batch(m, dim);
  const mat = new DenseMatrix(dim, { kernel });
  mat.append(codes, scales);

  it('finds planted targets first and most of the int8 top-10 with 10% rescored', () => {
    let overlap = 0;
    for (let j = 0; j < 20; j++) {
      const t = (j * 149) % n;
      const q = planted(m, dim, t, 100 + j);
      const bin = mat.search(q, 10, { firstStage: 'binary', rescore: 300 });
      const full = mat.search(q, 10, { firstStage: 'int8' });
      expect(bin.rows[0]).toBe(t);
      const set = new Set(full.rows);
      overlap += Array.from(bin.rows).filter((r) => set.has(r)).length;
      // Rescored rows carry the int8 scores, so a row found by both has the same score.
      for (let i = 0; i < 10; i++) if (set.has(bin.rows[i])) expect(bin.scores[i]).toBe(full.scores[Array.from(full.rows).indexOf(bin.rows[i])]);
    }
    expect(overlap / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('equals the int8 scan when every allowed row is a candidate (filters and tombstones)', () => {
    const m2 = new DenseMatrix(dim, { kernel });
    m2.append(codes, scales);
    for (const r of [5, 17, 2999, 1234]) m2.removeRow(r);
    const mask = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0));
    const allowed = Array.from(mask).filter((x, i) => x && m2.isLive(i)).length;
    const pred = (r: number) => r % 3 === 1;
    for (let j = 0; j < 5; j++) {
      const q = gaussRows(1, dim, 200 + j);
      expect(m2.search(q, 10, { firstStage: 'binary', rescore: allowed, filter: mask })).toEqual(m2.search(q, 10, { firstStage: 'int8', filter: mask }));
      // n − 4 live rows, a third allowed: the rescoring depth covers them all.
      expect(m2.search(q, 10, { firstStage: 'binary', rescore: n - 5, filter: pred })).toEqual(m2.search(q, 10, { firstStage: 'int8', filter: pred }));
      const hits = m2.search(q, 50, { firstStage: 'binary', rescore: 200 });
      for (const r of hits.rows) expect([5, 17, 2999, 1234]).not.toContain(r);
    }
  });

  it('keeps the sign bits in step through growth, removal, compaction and setRow', () => {
    // Built in small appends from a tiny capacity (several regrowths), then rows removed and compacted,
    // then one row overwritten: must search exactly like a matrix built at once from the final rows.
    const grown = new DenseMatrix(dim, { kernel, initialCapacity: 4 });
    for (let at = 0; at < n; at += 97) {
      const end = Math.min(n, at + 97);
      grown.append(codes.subarray(at * dim, end * dim), scales.subarray(at, end));
    }
    const dead = new Set([0, 1, 16, 33, 500, 2047, 2999]);
    for (const r of dead) grown.removeRow(r);
    grown.compact();
    const keep = [...Array(n).keys()].filter((r) => !dead.has(r));
    const fresh = new DenseMatrix(dim, { kernel });
    const fc = new Int8Array(keep.length * dim);
    keep.forEach((r, i) => fc.set(codes.subarray(r * dim, (r + 1) * dim), i * dim));
    fresh.append(
      fc,
      Float32Array.from(keep, (r) => scales[r]),
    );
    const other = quantizeInt8Batch(gaussRows(1, dim, 77), dim);
    grown.setRow(10, other.codes, other.scales[0]);
    fresh.setRow(10, other.codes, other.scales[0]);
    for (let j = 0; j < 5; j++) {
      const q = gaussRows(1, dim, 300 + j);
      expect(grown.search(q, 10, { firstStage: 'binary', rescore: 100 })).toEqual(fresh.search(q, 10, { firstStage: 'binary', rescore: 100 }));
    }
  });

  it('rejects a bad rescoring depth', () => {
    const q = gaussRows(1, dim, 9);
    expect(() => mat.search(q, 10, { firstStage: 'binary', rescore: 0 })).toThrow(/rescore/);
    expect(() => mat.search(q, 10, { firstStage: 'binary', rescore: 2.5 })).toThrow(/rescore/);
  });
});

describe.runIf(SIMD)('binary first stage: SIMD vs JS', () => {
  it.each([1024, 130, 8])('same rows and scores (dim %i)', (dim) => {
    const n = 1037;
    const { codes, scales } = quantizeInt8Batch(gaussRows(n, dim, dim), dim);
    const a = new DenseMatrix(dim, { kernel: 'simd' });
    const b = new DenseMatrix(dim, { kernel: 'js' });
    a.append(codes, scales);
    b.append(codes, scales);
    a.removeRow(7);
    b.removeRow(7);
    for (let j = 0; j < 5; j++) {
      const q = gaussRows(1, dim, 1000 + j);
      expect(a.search(q, 10, { firstStage: 'binary', rescore: 64 })).toEqual(b.search(q, 10, { firstStage: 'binary', rescore: 64 }));
    }
  });
});

describe('defaults', () => {
  it('binary from BINARY_MIN_ROWS live rows, rescoring 3% (at least 1,000)', () => {
    expect(BINARY_MIN_ROWS).toBe(20_000);
    expect(defaultRescore(10_000)).toBe(1000);
    expect(defaultRescore(100_000)).toBe(3000);
  });
});
