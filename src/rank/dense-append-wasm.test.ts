/**
 * The WASM row-packing kernel (dense-append-wasm.ts) against appendWords' JS loop: matrices built by appends of
 * awkward sizes (across the 4-row code blocks and the 16-row sign blocks, and past the staging area) give the same
 * binary first stage and int8 scores, hit for hit, as the JS kernel's.
 */
import { describe, expect, it } from 'vitest';
import { DenseMatrix, quantizeInt8Batch, usePackRows } from './dense-scan.ts';
import { wasmKernelSupported } from './dense-scan-wasm.ts';
import { instantiatePackRows, PACK_ROWS_WASM } from './dense-append-wasm.ts';
import { assemble, Body, I32 } from './wasm-assembler.ts';
import { mulberry32 as rng } from '../util/random.ts';

const SIMD = wasmKernelSupported(false);

function rows(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * dim }, () => r() * 2 - 1);
}

describe.runIf(SIMD)('row-packing kernel', () => {
  usePackRows(instantiatePackRows);

  it('its listed bytes are the function its comment describes, as wasm-assembler.ts assembles it', () => {
    const f = new Body([I32, I32, I32, I32]);
    const [src, dst, bits, chunks] = [0, 1, 2, 3];
    f.block().loop();
    f.get(chunks);
    f.code.push(0x45); // i32.eqz
    f.brIf(1);
    for (let k = 0; k < 4; k++) {
      f.get(dst)
        .get(src)
        .v128load(16 * k)
        .v128store(16 * k);
      f.get(bits)
        .get(src)
        .v128load(16 * k)
        .simd(0x64); // i8x16.bitmask
      f.code.push(0x3a, 0, 32 * k); // i32.store8
      f.get(bits)
        .get(src)
        .v128load(16 * k)
        .simd(0x64)
        .i32(8)
        .shrU();
      f.code.push(0x3a, 0, 32 * k + 16);
    }
    f.get(src).i32(64).add().set(src);
    f.get(dst).i32(256).add().set(dst);
    f.get(bits).i32(128).add().set(bits);
    f.get(chunks).i32(1).i32sub().set(chunks);
    f.br(0).end().end();
    const bytes = assemble([{ name: 'packRow', body: f, results: [] }]);
    expect(Buffer.from(bytes).toString('base64')).toBe(PACK_ROWS_WASM);
  });

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
