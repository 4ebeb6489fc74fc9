/**
 * Test reference for DenseMatrix (unit tests in Node, the relaxed-SIMD test in Chromium): the score a row must
 * get, computed from the stored codes alone: the query quantised the way the matrix documents it, an integer
 * dot product, and the documented float32 rounding chain. Shares no code with the kernels.
 */
import type { DenseMatrix } from './dense-scan.ts';
import { mulberry32 } from '../util/random.ts';

export function referenceScore(mat: DenseMatrix, query: Float32Array, r: number): number {
  let max = 0;
  for (const x of query) max = Math.max(max, Math.abs(x));
  const s = max > 0 ? Math.fround(max / mat.queryMax) : 0;
  const inv = s > 0 ? 1 / s : 0;
  const { codes, scale } = mat.getRow(r);
  let dot = 0;
  for (let i = 0; i < query.length; i++) {
    const v = query[i] * inv;
    const qi = Math.max(-mat.queryMax, Math.min(mat.queryMax, v < 0 ? -Math.round(-v) : Math.round(v)));
    dot += codes[i] * qi;
  }
  return Math.fround(Math.fround(Math.fround(dot) * scale) * s);
}

/** Rows of Gaussian-ish (sum of uniforms) unit vectors, seeded. */
export function randomRows(n: number, dim: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const m = new Float32Array(n * dim);
  for (let o = 0; o < m.length; o += dim) {
    let ss = 0;
    for (let i = 0; i < dim; i++) {
      const v = r() + r() + r() - 1.5;
      m[o + i] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let i = 0; i < dim; i++) m[o + i] *= inv;
  }
  return m;
}
