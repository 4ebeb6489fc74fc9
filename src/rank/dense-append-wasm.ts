/**
 * The row-packing kernel a cold open appends every stored int8 row with (DenseMatrix.append): a row's codes, staged
 * row-major in the matrix's memory, copied into the blocked layout (64-byte chunks 256 bytes apart, dense-scan.ts)
 * with its sign bits (i8x16.bitmask: bit k of byte j = dimension 8j + k is negative) written into the 16-row
 * transposed bit blocks, 16 bytes apart. The JS loop it replaces cost ~3 µs a row of 1024 dims, most of the open
 * after the posting checks were deferred.
 */
import { assemble, Body, I32 } from './wasm-assembler.ts';

export interface PackRowsKernel {
  /** Row from `src` (chunks × 64 bytes) to `dst` (chunk c at dst + 256c) and its sign bits (byte j at bits + 16j). */
  packRow(src: number, dst: number, bits: number, chunks: number): void;
}

let module: WebAssembly.Module | null | undefined;

/** The kernel over `memory`, or null where WebAssembly SIMD is not there. */
export function instantiatePackRows(memory: WebAssembly.Memory): PackRowsKernel | null {
  if (module === undefined) {
    try {
      const bytes = moduleBytes();
      module = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      module = null;
    }
  }
  return module && (new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as PackRowsKernel);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const f = new Body([I32, I32, I32, I32]);
  const [src, dst, bits, chunks] = [0, 1, 2, 3];
  const store8 = (offset: number) => {
    f.code.push(0x3a, 0); // i32.store8, align 1
    pushUleb(offset, f.code);
  };
  const bitmask = () => f.simd(0x64); // i8x16.bitmask
  f.block().loop();
  f.get(chunks);
  f.code.push(0x45); // i32.eqz
  f.brIf(1);
  for (let k = 0; k < 4; k++) {
    f.get(dst)
      .get(src)
      .v128load(16 * k)
      .v128store(16 * k);
    // 16 dimensions: their sign bits are bytes 2k and 2k + 1 of this chunk's 8, 16 apart.
    f.get(bits)
      .get(src)
      .v128load(16 * k);
    bitmask();
    store8(32 * k);
    f.get(bits)
      .get(src)
      .v128load(16 * k);
    bitmask();
    f.i32(8).shrU();
    store8(32 * k + 16);
  }
  f.get(src).i32(64).add().set(src);
  f.get(dst).i32(256).add().set(dst);
  f.get(bits).i32(128).add().set(bits);
  f.get(chunks).i32(1).i32sub().set(chunks);
  f.br(0).end().end();
  return assemble([{ name: 'packRow', body: f, results: [] }]);
}

function pushUleb(v: number, out: number[]): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
}
