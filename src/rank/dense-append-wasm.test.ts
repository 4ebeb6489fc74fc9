/**
 * The WASM row-packing kernel (dense-append-wasm.ts) against appendWords' JS loop: matrices built by appends of
 * awkward sizes (across the 4-row code blocks and the 16-row sign blocks, and past the staging area) give the same
 * binary first stage and int8 scores, hit for hit, as the JS kernel's.
 */
import { describe, expect, it } from 'vitest';
import { DenseMatrix, quantizeInt8Batch } from './dense-scan.ts';
import { wasmKernelSupported } from './dense-scan-wasm.ts';
import { instantiatePackRows } from './dense-append-wasm.ts';
import { mulberry32 as rng } from '../util/random.ts';

const SIMD = wasmKernelSupported(false);

function rows(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * dim }, () => r() * 2 - 1);
}

describe.runIf(SIMD)('row-packing kernel', () => {
  it('instantiates where SIMD runs', () => {
    expect(instantiatePackRows(new WebAssembly.Memory({ initial: 1 }))).not.toBeNull();
  });

  for (const dim of [64, 1024]) {
    it(`packs rows of ${dim} dims as the JS loop does (binary and int8 searches agree hit for hit)`, () => {
      const simd = new DenseMatrix(dim, { kernel: 'simd', initialCapacity: 8 });
      const js = new DenseMatrix(dim, { kernel: 'js', initialCapacity: 8 });
      let at = 0;
      for (const n of [5, 37, 1, 300, 2100]) {
        const { codes, scales } = quantizeInt8Batch(rows(n, dim, at + 1), dim);
        // An odd offset into a larger buffer, as a record's subarray can be.
        const shifted = new Int8Array(codes.length + 3);
        shifted.set(codes, 3);
        expect(simd.append(shifted.subarray(3), scales)).toBe(at);
        js.append(codes, scales);
        at += n;
      }
      expect(simd.size).toBe(at);
      for (let j = 0; j < 8; j++) {
        const q = rows(1, dim, 1000 + j);
        for (const firstStage of ['binary', 'int8'] as const) {
          const a = simd.search(q, 10, { firstStage, rescore: 12 });
          const b = js.search(q, 10, { firstStage, rescore: 12 });
          expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
          expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
        }
      }
    });
  }
});
