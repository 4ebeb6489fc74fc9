import { describe, expect, it } from 'vitest';
import { quantizeInt8Into } from '../rank/dense-scan.ts';
import { int8KernelInUse, quantizeInt8Rows } from './quantize.ts';

/** The scalar quantiser row by row: what quantizeInt8Rows must reproduce bit for bit. */
function reference(vecs: (Float32Array | undefined)[], dims: number) {
  const codes = new Int8Array(vecs.length * dims);
  const scales = new Float32Array(vecs.length);
  vecs.forEach((v, r) => v && (scales[r] = quantizeInt8Into(v, 0, dims, codes, r * dims)));
  return { codes, scales };
}

function rows(count: number, dims: number, seed: number): (Float32Array | undefined)[] {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, r) => {
    if (r % 7 === 3) return undefined;
    const v = new Float32Array(dims);
    for (let i = 0; i < dims; i++) v[i] = (rnd() - 0.5) * (r % 5 === 0 ? 1e-30 : r % 5 === 1 ? 1e30 : 2);
    return v;
  });
}

describe('quantizeInt8Rows', () => {
  it('gives the scalar quantiser’s codes and scales bit for bit, ties at .5 included', () => {
    expect(int8KernelInUse(1024)).toBe(true); // Node 20 runs WASM SIMD: the kernel, not the fallback, is compared
    expect(int8KernelInUse(6)).toBe(false);
    for (const dims of [4, 8, 12, 1024, 6, 7]) {
      const vecs = rows(40, dims, dims);
      // Exact halves: max 127 makes the scale 1, so these land on k + 0.5 and -(k + 0.5).
      const ties = new Float32Array(dims);
      for (let i = 0; i < dims; i++) ties[i] = i === 0 ? 127 : (i % 2 ? -1 : 1) * ((i * 37) % 127) + (i % 3 === 0 ? 0.5 : i % 3 === 1 ? -0.5 : 0);
      ties[dims - 1] = -0;
      vecs.push(ties, new Float32Array(dims), new Float32Array(dims).fill(-0));
      const want = reference(vecs, dims);
      const codes = new Int8Array(vecs.length * dims).fill(99);
      const scales = new Float32Array(vecs.length).fill(99);
      for (let r = 0; r < vecs.length; r++) if (!vecs[r]) codes.fill(0, r * dims, (r + 1) * dims), (scales[r] = 0);
      quantizeInt8Rows(vecs, dims, codes, scales);
      expect(codes).toEqual(want.codes);
      expect(scales).toEqual(want.scales);
    }
  });

  it('refuses NaN and ±Infinity as the scalar quantiser does', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const v = new Float32Array(16).fill(0.25);
      v[9] = bad;
      expect(() => quantizeInt8Rows([v], 16, new Int8Array(16), new Float32Array(1))).toThrow(Number.isNaN(bad) ? /NaN/ : /Infinity/);
    }
  });
});
