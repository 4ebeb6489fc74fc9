/**
 * The WebAssembly kernel behind ColBERT MaxSim (src/search/colbert.ts): every int8 document vector of a
 * document dotted with every int16 query vector in one call. SIMD128 `i32x4.dot_i16x8_s` on 8 dimensions
 * at a time, with `v128.load8x8_s` widening the document bytes straight from memory (as the dense scan does,
 * dense-scan-wasm.ts).
 */
import { assemble, Body, I32, V128 } from './wasm-assembler.ts';

/**
 * `dots(q, nq, dims, codes, count, out)`: the integer dot product of every one of `count` int8
 * rows (row-major, `dims` bytes apart, from `codes`) with every one of `nq` int16 query rows
 * (row-major, from `q`), written as i32 to out[row·nq + i]. `nq` must be a multiple of 4 (pad with
 * zero rows) and `dims` a multiple of 8. Each document load feeds 4 query rows (ColBERT MaxSim:
 * 8–32 query vectors against a document's 16–512 vectors).
 */
function dotsKernel(): Body {
  const P_Q = 0,
    P_NQ = 1,
    P_DIMS = 2,
    P_CODES = 3,
    P_COUNT = 4,
    P_OUT = 5;
  const f = new Body([I32, I32, I32, I32, I32, I32]);
  const j = f.local(I32);
  const g = f.local(I32);
  const d = f.local(I32);
  const rowP = f.local(I32);
  const qg = f.local(I32); // first query row of this group of 4
  const qs = f.local(I32); // bytes per query row
  const qp = f.local(I32); // qg + 2d
  const o = f.local(I32);
  const dv = f.local(V128);
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];

  f.get(P_DIMS).i32(1).shl().set(qs);
  f.get(P_OUT).set(o);
  f.get(P_CODES).set(rowP);
  f.i32(0).set(j);
  f.block().loop();
  {
    f.get(j).get(P_COUNT).geU().brIf(1);
    f.i32(0).set(g);
    f.get(P_Q).set(qg);
    f.block().loop();
    {
      f.get(g).get(P_NQ).geU().brIf(1);
      for (let r = 0; r < 4; r++) f.v128zero().set(acc[r]);
      f.i32(0).set(d);
      f.loop();
      {
        f.get(rowP).get(d).add().load8x8s().set(dv);
        f.get(qg).get(d).i32(1).shl().add().set(qp);
        for (let r = 0; r < 4; r++) {
          f.get(acc[r]).get(dv).get(qp).v128load().i32x4dotI16().i32x4add().set(acc[r]);
          if (r < 3) f.get(qp).get(qs).add().set(qp);
        }
        f.get(d).i32(8).add().set(d);
        f.get(d).get(P_DIMS).ltU().brIf(0);
      }
      f.end();
      for (let r = 0; r < 4; r++) {
        f.get(o);
        f.get(acc[r]).i32x4extract(0).get(acc[r]).i32x4extract(1).add();
        f.get(acc[r]).i32x4extract(2).add().get(acc[r]).i32x4extract(3).add();
        f.i32store(4 * r);
      }
      f.get(o).i32(16).add().set(o);
      f.get(qg).get(qs).i32(2).shl().add().set(qg);
      f.get(g).i32(4).add().set(g);
      f.br(0);
    }
    f.end().end();
    f.get(rowP).get(P_DIMS).add().set(rowP);
    f.get(j).i32(1).add().set(j);
    f.br(0);
  }
  f.end().end();
  return f;
}

let dotsBytes: Uint8Array<ArrayBuffer> | null = null;
let dotsModule: WebAssembly.Module | null = null;
let dotsOk: boolean | undefined;

/** The module behind `instantiateDots` (imports `env.mem`, exports `dots`). */
export function dotsModuleBytes(): Uint8Array<ArrayBuffer> {
  dotsBytes ??= assemble([{ name: 'dots', body: dotsKernel(), results: [] }]);
  return dotsBytes;
}

export interface DotsKernel {
  /** (q, nq, dims, codes, count, out): see dotsKernel. */
  dots: (q: number, nq: number, dims: number, codes: number, count: number, out: number) => void;
}

/** Whether the dots kernel validates and gives a known answer here (cached). */
export function dotsKernelSupported(): boolean {
  if (dotsOk === undefined) {
    try {
      dotsOk = typeof WebAssembly === 'object' && WebAssembly.validate(dotsModuleBytes()) && dotsKnownAnswer();
    } catch {
      dotsOk = false;
    }
  }
  return dotsOk;
}

export function instantiateDots(memory: WebAssembly.Memory): DotsKernel {
  dotsModule ??= new WebAssembly.Module(dotsModuleBytes());
  return new WebAssembly.Instance(dotsModule, { env: { mem: memory } }).exports as unknown as DotsKernel;
}

function dotsKnownAnswer(): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateDots(memory);
  const dims = 24,
    nq = 4,
    rows = 3;
  const Q = 0,
    CODES = 512,
    OUT = 1024;
  const i8 = new Int8Array(memory.buffer);
  const i16 = new Int16Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  for (let i = 0; i < nq * dims; i++) i16[Q / 2 + i] = ((i * 7919) % 32767) - 16383;
  for (let i = 0; i < rows * dims; i++) i8[CODES + i] = ((i * 31) % 256) - 128;
  k.dots(Q, nq, dims, CODES, rows, OUT);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < nq; q++) {
      let dot = 0;
      for (let x = 0; x < dims; x++) dot += i8[CODES + r * dims + x] * i16[Q / 2 + q * dims + x];
      if (i32[OUT / 4 + r * nq + q] !== dot) return false;
    }
  }
  return true;
}
