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

/**
 * `unpack(planes, count, dims, bits, out)`: `count` bit-plane coded vectors (src/store/colbert-bits.ts: `bits`
 * planes of dims/8 bytes each, vector after vector from `planes`) written as int8 values 2c − (2^bits − 1),
 * `dims` bytes per vector from `out`, ready for `dots`. 16 dimensions at a time: their 2 bytes of a plane are
 * splatted, each lane keeps its own byte and tests its own bit, and the set bits are summed with their weights.
 * `dims` must be a multiple of 16.
 */
function unpackKernel(): Body {
  const P_PLANES = 0,
    P_COUNT = 1,
    P_DIMS = 2,
    P_BITS = 3,
    P_OUT = 4;
  const f = new Body([I32, I32, I32, I32, I32]);
  const j = f.local(I32);
  const k = f.local(I32); // byte offset in a plane (2 per 16 dims)
  const p = f.local(I32);
  const a = f.local(I32); // plane p's 2 bytes
  const src = f.local(I32);
  const dst = f.local(I32);
  const pb = f.local(I32); // bytes per plane
  const acc = f.local(V128);
  const lv = f.local(V128); // 2^bits − 1 in every lane
  const sel = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
  const bit = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];

  f.get(P_DIMS).i32(3).shrU().set(pb);
  f.i32(1).get(P_BITS).shl().i32(1).i32sub().i8x16splat().set(lv);
  f.get(P_PLANES).set(src);
  f.get(P_OUT).set(dst);
  f.i32(0).set(j);
  f.block().loop();
  {
    f.get(j).get(P_COUNT).geU().brIf(1);
    f.i32(0).set(k);
    f.loop();
    {
      f.v128zero().set(acc);
      f.i32(0).set(p);
      f.get(src).get(k).add().set(a);
      f.loop();
      {
        // acc −= (bit set ? −1 : 0) << p
        f.get(acc);
        f.get(a).load16splat().v128const(sel).i8x16swizzle().v128const(bit).v128and().v128const(bit).i8x16eq();
        f.get(p).i8x16shl().i8x16sub().set(acc);
        f.get(a).get(pb).add().set(a);
        f.get(p).i32(1).add().set(p);
        f.get(p).get(P_BITS).ltU().brIf(0);
      }
      f.end();
      f.get(dst).get(acc).get(acc).i8x16add().get(lv).i8x16sub().v128store();
      f.get(dst).i32(16).add().set(dst);
      f.get(k).i32(2).add().set(k);
      f.get(k).get(pb).ltU().brIf(0);
    }
    f.end();
    f.get(src).get(pb).get(P_BITS).mul().add().set(src);
    f.get(j).i32(1).add().set(j);
    f.br(0);
  }
  f.end().end();
  return f;
}

let dotsBytes: Uint8Array<ArrayBuffer> | null = null;
let dotsModule: WebAssembly.Module | null = null;
let dotsOk: boolean | undefined;

/** The module behind `instantiateDots` (imports `env.mem`, exports `dots` and `unpack`). */
export function dotsModuleBytes(): Uint8Array<ArrayBuffer> {
  dotsBytes ??= assemble([
    { name: 'dots', body: dotsKernel(), results: [] },
    { name: 'unpack', body: unpackKernel(), results: [] },
  ]);
  return dotsBytes;
}

export interface DotsKernel {
  /** (q, nq, dims, codes, count, out): see dotsKernel. */
  dots: (q: number, nq: number, dims: number, codes: number, count: number, out: number) => void;
  /** (planes, count, dims, bits, out): see unpackKernel. */
  unpack: (planes: number, count: number, dims: number, bits: number, out: number) => void;
}

/** Whether the dots kernel validates and gives a known answer here (cached). */
export function dotsKernelSupported(): boolean {
  if (dotsOk === undefined) {
    try {
      dotsOk = typeof WebAssembly === 'object' && WebAssembly.validate(dotsModuleBytes()) && dotsKnownAnswer() && unpackKnownAnswer();
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

/** Planes of 2 vectors × 32 dims at 1, 2 and 4 bits against the bit-by-bit decoding. */
function unpackKnownAnswer(): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateDots(memory);
  const dims = 32,
    count = 2,
    PLANES = 0,
    OUT = 1024;
  const u8 = new Uint8Array(memory.buffer);
  const i8 = new Int8Array(memory.buffer);
  for (const bits of [1, 2, 4]) {
    const bytes = (count * bits * dims) / 8;
    for (let i = 0; i < bytes; i++) u8[PLANES + i] = (i * 73 + bits * 29) & 0xff;
    k.unpack(PLANES, count, dims, bits, OUT);
    for (let j = 0; j < count; j++) {
      for (let x = 0; x < dims; x++) {
        let c = 0;
        for (let p = 0; p < bits; p++) c |= ((u8[PLANES + ((j * bits + p) * dims) / 8 + (x >> 3)] >> (x & 7)) & 1) << p;
        if (i8[OUT + j * dims + x] !== 2 * c - ((1 << bits) - 1)) return false;
      }
    }
  }
  return true;
}
