/**
 * The row-packing kernel a cold open appends every stored int8 row with (DenseMatrix.append, loaded beside the
 * IndexedDB read through usePackRows): a row's codes, staged row-major in the matrix's memory, copied into the
 * blocked layout (64-byte chunks 256 bytes apart, dense-scan.ts) with its sign bits (i8x16.bitmask: bit k of byte
 * j = dimension 8j + k is negative) written into the 16-row transposed bit blocks, 16 bytes apart. The JS loop it
 * replaces cost ~3 µs a row of 1024 dims, most of a cold open once the posting checks were deferred.
 *
 *   packRow(src, dst, bits, chunks): per chunk, for k = 0..3: v128.store(dst + 16k, v128.load(src + 16k));
 *     m = i8x16.bitmask(v128.load(src + 16k)); i32.store8(bits + 32k, m); i32.store8(bits + 32k + 16, m >>> 8);
 *     then src += 64, dst += 256, bits += 128
 *
 * The module's bytes are listed here (a self-contained chunk, no assembler in it); dense-append-wasm.test.ts
 * assembles the same function with wasm-assembler.ts and checks they agree.
 */

export interface PackRowsKernel {
  /** Row from `src` (chunks × 64 bytes) to `dst` (chunk c at dst + 256c) and its sign bits (byte j at bits + 16j). */
  packRow(src: number, dst: number, bits: number, chunks: number): void;
}

export const PACK_ROWS_WASM =
  'AGFzbQEAAAABCAFgBH9/f38AAgwBA2VudgNtZW0CAAEDAgEABwsBB3BhY2tSb3cAAArVAQHSAQACQANAIANFDQEgASAA/QAAAP0LAAAgAiAA/QAAAP1kOgAAIAIgAP0AAAD9ZEEIdjoAECABIAD9AAAQ/QsAECACIAD9AAAQ/WQ6ACAgAiAA/QAAEP1kQQh2OgAwIAEgAP0AACD9CwAgIAIgAP0AACD9ZDoAQCACIAD9AAAg/WRBCHY6AFAgASAA/QAAMP0LADAgAiAA/QAAMP1kOgBgIAIgAP0AADD9ZEEIdjoAcCAAQcAAaiEAIAFBgAJqIQEgAkGAAWohAiADQQFrIQMMAAsLCw==';

let module: WebAssembly.Module | null | undefined;

/** The kernel over `memory`, or null where WebAssembly SIMD is not there. */
export function instantiatePackRows(memory: WebAssembly.Memory): PackRowsKernel | null {
  if (module === undefined) {
    try {
      const bytes = Uint8Array.from(atob(PACK_ROWS_WASM), (c) => c.charCodeAt(0));
      module = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      module = null;
    }
  }
  return module && (new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as PackRowsKernel);
}
