/**
 * The WebAssembly SIMD128 kernels behind `dense-scan.ts`, emitted as binary bytes by a tiny
 * in-repo assembler (no toolchain, no dependency; the module is a few hundred bytes and is
 * built once per process).
 *
 * Why int8 documents × int16 query with `i32x4.dot_i16x8_s`: WASM SIMD has no plain i8×i8
 * dot product, but `v128.load8x8_s` sign-extends 8 document bytes to i16 straight from memory
 * (one pmovsxbw on x64), and `i32x4.dot_i16x8_s` (one pmaddwd) then multiplies by the query
 * and sums adjacent pairs into i32 lanes. That is 3 instructions per 8 dimensions per row,
 * and since the query is widened anyway it can carry 14 bits instead of 8 for free.
 *
 * Why 4 rows per inner iteration: each query vector is loaded once and used 4 times, and the
 * 4 accumulators are independent dependency chains.
 *
 * Why one call per query: the whole scan (all rows, or a candidate list) is one call that writes
 * every score, scaled to float32, into an output buffer; JS only picks the top-k.
 *
 * The relaxed-SIMD variant (`i32x4.relaxed_dot_i8x16_i7x16_add_s`) multiplies 16 bytes at once
 * but needs one operand in [0, 127]: the query is quantised to [-63, 63] and offset by +64, and
 * 64·Σcodes (stored per row) is subtracted afterwards. It is a separate module so that engines
 * without relaxed SIMD still validate the main one.
 */

import { assemble, Body, F32, I32, V128 } from './wasm-assembler.ts';

// ---------- kernels ----------

/** Row stride (bytes) must be a multiple of this: the inner loop handles 64 dimensions per step. */
export const STRIDE_ALIGN = 64;

/*
 * Row blocks: rows are stored in blocks of 4, interleaved by 64-byte chunk: [r0 c0][r1 c0][r2 c0][r3 c0]
 * [r0 c1]… The kernel scores 4 rows at once, so a scan then reads one sequential stream
 * instead of 4 streams a stride apart; at 100k × 1024 (beyond L3) that measured 4.1 vs
 * 6.1 ms per query on the target EPYC (the hardware prefetcher likes one stream).
 */
export const CHUNK = 64;

type Mode = 'scan' | 'gather';

/**
 * Emits `scan(q, codes, stride, count, scales, out, qs)` or
 * `gather(q, codes, stride, idx, count, scales, out, qs)` (relaxed: an extra `sums` pointer).
 *
 * scan:   out[j] = f32(dot(q, row j)) · scales[j] · qs         for j < count, rows from `codes`
 * gather: out[j] = f32(dot(q, row idx[j])) · scales[idx[j]] · qs
 * `count` must be a multiple of 4 (the caller pads), `stride` a multiple of 64.
 * The relaxed form subtracts 64·sums[row] first (see module comment).
 */
function kernel(mode: Mode, relaxed: boolean): Body {
  // scan:   (q, codes, stride,      count, scales, [sums,] out, qs)
  // gather: (q, codes, stride, idx, count, scales, [sums,] out, qs)
  const params = [I32, I32, I32];
  const P_Q = 0;
  const P_CODES = 1;
  const P_STRIDE = 2;
  const P_IDX = mode === 'gather' ? params.push(I32) - 1 : -1;
  const P_COUNT = params.push(I32) - 1;
  const P_SCALES = params.push(I32) - 1;
  const P_SUMS = relaxed ? params.push(I32) - 1 : -1;
  const P_OUT = params.push(I32) - 1;
  const P_QS = params.push(F32) - 1;
  const f = new Body(params);

  const j = f.local(I32); // row slot 0..count
  const qp = f.local(I32);
  const qEnd = f.local(I32);
  const p = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const row = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const qv = relaxed
    ? [f.local(V128), f.local(V128), f.local(V128), f.local(V128)]
    : [f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const qBytesPerDim = relaxed ? 1 : 2;

  // qEnd = q + stride * qBytesPerDim
  f.get(P_Q).get(P_STRIDE);
  if (!relaxed) f.i32(1).shl();
  f.add().set(qEnd);

  f.i32(0).set(j);
  f.block().loop();
  {
    f.get(j).get(P_COUNT).geU().brIf(1);
    // Row numbers and row pointers for this group of 4.
    for (let r = 0; r < 4; r++) {
      if (mode === 'scan') {
        f.get(j).i32(r).add().set(row[r]);
      } else {
        f.get(P_IDX)
          .get(j)
          .i32(4)
          .mul()
          .add()
          .i32load(4 * r)
          .set(row[r]);
      }
      // Blocked layout (see Row blocks above): row r's 64-byte chunk c sits at
      // codes + (r>>2)·4·stride + c·256 + (r&3)·64.
      if (mode === 'scan') {
        f.get(P_CODES)
          .get(j)
          .get(P_STRIDE)
          .mul()
          .add()
          .i32(64 * r)
          .add()
          .set(p[r]);
      } else {
        f.get(P_CODES).get(row[r]).i32(2).shrU().get(P_STRIDE).mul().i32(2).shl().add();
        f.get(row[r]).i32(3).and().i32(6).shl().add().set(p[r]);
      }
      f.v128zero().set(acc[r]);
    }
    f.get(P_Q).set(qp);
    f.loop();
    {
      if (relaxed) {
        for (let u = 0; u < 4; u++)
          f.get(qp)
            .v128load(16 * u)
            .set(qv[u]);
        for (let u = 0; u < 4; u++) {
          for (let r = 0; r < 4; r++) {
            // acc += Σ4 doc_i8 · (q+64)_u7
            f.get(p[r])
              .v128load(16 * u)
              .get(qv[u])
              .get(acc[r])
              .relaxedDotAdd()
              .set(acc[r]);
          }
        }
      } else {
        for (let u = 0; u < 8; u++)
          f.get(qp)
            .v128load(16 * u)
            .set(qv[u]);
        for (let u = 0; u < 8; u++) {
          for (let r = 0; r < 4; r++) {
            // acc += pairwise(doc_i16 · q_i16), 8 dims
            f.get(acc[r])
              .get(p[r])
              .load8x8s(8 * u)
              .get(qv[u])
              .i32x4dotI16()
              .i32x4add()
              .set(acc[r]);
          }
        }
      }
      for (let r = 0; r < 4; r++) f.get(p[r]).i32(256).add().set(p[r]);
      f.get(qp)
        .i32(64 * qBytesPerDim)
        .add()
        .set(qp);
      f.get(qp).get(qEnd).ltU().brIf(0);
    }
    f.end();
    for (let r = 0; r < 4; r++) {
      // out[j + r] = f32(hsum(acc) [- 64·sums[row]]) · scales[row] · qs
      f.get(P_OUT).get(j).i32(4).mul().add();
      f.get(acc[r]).i32x4extract(0).get(acc[r]).i32x4extract(1).add();
      f.get(acc[r]).i32x4extract(2).add().get(acc[r]).i32x4extract(3).add();
      if (relaxed) f.get(P_SUMS).get(row[r]).i32(4).mul().add().i32load().i32(6).shl().i32sub();
      f.f32fromI32();
      f.get(P_SCALES).get(row[r]).i32(4).mul().add().f32load().f32mul();
      f.get(P_QS).f32mul();
      f.f32store(4 * r);
    }
    f.get(j).i32(4).add().set(j);
    f.br(0);
  }
  f.end().end();
  return f;
}

/**
 * Sign-bit first stage (see DenseMatrix.search, firstStage 'binary'): documents are kept as 1 bit per
 * dimension (the sign of their int8 code, 128 B at d = 1024) and scored *asymmetrically* against the
 * full-precision query: Σ_{i: d_i < 0} −q_i, which ranks like q · sign(d). On m3-bench-v1 (20k docs,
 * exact top-10 in the first C candidates) that needs 1,000 candidates for recall 0.99 where Hamming
 * distance between sign vectors needs over 4,000 (0.98): the query keeps its magnitudes.
 *
 * `signScan(lut, bits, bytes, blocks, out)`: the "fast scan" layout and kernel. Rows are stored in
 * blocks of 16, transposed by byte: block b's byte j is 16 consecutive bytes (rows 16b..16b+15), so
 * one v128 holds the same byte of 16 rows. Each byte is two nibbles (dims 8j..8j+3 and 8j+4..8j+7);
 * the query becomes one 16-entry table per nibble (lut + 32j: low nibble, + 32j + 16: high nibble) of
 * its partial sums quantised to 0..127, and `i8x16.swizzle` looks up 16 rows' nibbles at once. Per
 * block the u8 sums (≤ 254) widen into two i16x8 accumulators that wrap mod 2^16, so out gets one u16
 * per row exactly when 2 · bytes · max(lut) ≤ 65,535 (the caller scales the tables to fit).
 * `bytes` must be a multiple of 4. No popcount: on x64 `i8x16.popcnt` is itself a pshufb sequence.
 */
function signScanKernel(): Body {
  const P_LUT = 0,
    P_BITS = 1,
    P_BYTES = 2,
    P_BLOCKS = 3,
    P_OUT = 4;
  const f = new Body([I32, I32, I32, I32, I32]);
  const bp = f.local(I32);
  const end = f.local(I32);
  const p = f.local(I32);
  const je = f.local(I32);
  const lp = f.local(I32);
  const op = f.local(I32);
  const mask = f.local(V128);
  const accLo = f.local(V128);
  const accHi = f.local(V128);
  const v = f.local(V128);
  const r = f.local(V128);

  f.i32(0x0f).i8x16splat().set(mask);
  f.get(P_BITS).set(bp);
  f.get(P_OUT).set(op);
  f.get(P_BITS).get(P_BLOCKS).get(P_BYTES).mul().i32(4).shl().add().set(end);
  f.block().loop();
  {
    f.get(bp).get(end).geU().brIf(1);
    f.v128zero().set(accLo);
    f.v128zero().set(accHi);
    f.get(bp).set(p);
    f.get(P_LUT).set(lp);
    f.get(bp).get(P_BYTES).i32(4).shl().add().set(je);
    f.loop();
    {
      for (let u = 0; u < 4; u++) {
        f.get(p)
          .v128load(16 * u)
          .set(v);
        f.get(lp)
          .v128load(32 * u)
          .get(v)
          .get(mask)
          .v128and()
          .i8x16swizzle();
        f.get(lp)
          .v128load(32 * u + 16)
          .get(v)
          .i32(4)
          .i8x16shrU()
          .i8x16swizzle();
        f.i8x16add().set(r);
        f.get(accLo).get(r).i16x8extendLowU8().i16x8add().set(accLo);
        f.get(accHi).get(r).i16x8extendHighU8().i16x8add().set(accHi);
      }
      f.get(p).i32(64).add().set(p);
      f.get(lp).i32(128).add().set(lp);
      f.get(p).get(je).ltU().brIf(0);
    }
    f.end();
    f.get(op).get(accLo).v128store();
    f.get(op).get(accHi).v128store(16);
    f.get(op).i32(32).add().set(op);
    f.get(je).set(bp);
    f.br(0);
  }
  f.end().end();
  return f;
}

let signBytes: Uint8Array<ArrayBuffer> | null = null;
let signModule: WebAssembly.Module | null = null;
let signOk: boolean | undefined;

/** The module behind `instantiateSignScan` (imports `env.mem`, exports `signScan`). */
export function signScanModuleBytes(): Uint8Array<ArrayBuffer> {
  signBytes ??= assemble([{ name: 'signScan', body: signScanKernel(), results: [] }]);
  return signBytes;
}

export interface SignScanKernel {
  /** (lut, bits, bytes, blocks, out): see signScanKernel. */
  signScan: (lut: number, bits: number, bytes: number, blocks: number, out: number) => void;
}

export function instantiateSignScan(memory: WebAssembly.Memory): SignScanKernel {
  signModule ??= new WebAssembly.Module(signScanModuleBytes());
  return new WebAssembly.Instance(signModule, { env: { mem: memory } }).exports as unknown as SignScanKernel;
}

/** Whether the sign-scan kernel validates and gives a known answer here (cached). */
export function signScanSupported(): boolean {
  if (signOk === undefined) {
    try {
      signOk = typeof WebAssembly === 'object' && WebAssembly.validate(signScanModuleBytes()) && signScanKnownAnswer();
    } catch {
      signOk = false;
    }
  }
  return signOk;
}

/** The kernel's sum for one row, in plain JS (the reference and the fallback). */
export function signScanRow(lut: Uint8Array, lutOff: number, bits: Uint8Array, blockOff: number, lane: number, bytes: number): number {
  let s = 0;
  for (let j = 0, l = lutOff, b = blockOff + lane; j < bytes; j++, l += 32, b += 16) {
    const x = bits[b];
    s += lut[l + (x & 15)] + lut[l + 16 + (x >> 4)];
  }
  return s;
}

function signScanKnownAnswer(): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateSignScan(memory);
  const bytes = 8,
    blocks = 2;
  const LUT = 0,
    BITS = 1024,
    OUT = 2048;
  const u8 = new Uint8Array(memory.buffer);
  const u16 = new Uint16Array(memory.buffer);
  for (let i = 0; i < 32 * bytes; i++) u8[LUT + i] = (i * 37 + 11) % 128;
  for (let i = 0; i < blocks * 16 * bytes; i++) u8[BITS + i] = (i * 101 + 7) % 256;
  k.signScan(LUT, BITS, bytes, blocks, OUT);
  for (let b = 0; b < blocks; b++) {
    for (let lane = 0; lane < 16; lane++) {
      if (u16[OUT / 2 + b * 16 + lane] !== signScanRow(u8, LUT, u8, BITS + b * 16 * bytes, lane, bytes)) return false;
    }
  }
  return true;
}

// ---------- module building / feature detection ----------

const cache = new Map<boolean, Uint8Array<ArrayBuffer>>();

/** The module bytes: exports `scan` and `gather` (relaxed: the i7 forms), imports `env.mem`. */
export function kernelModuleBytes(relaxed: boolean): Uint8Array<ArrayBuffer> {
  let bytes = cache.get(relaxed);
  if (!bytes) {
    bytes = assemble([
      { name: 'scan', body: kernel('scan', relaxed), results: [] },
      { name: 'gather', body: kernel('gather', relaxed), results: [] },
    ]);
    cache.set(relaxed, bytes);
  }
  return bytes;
}

const support = new Map<boolean, boolean>();

/**
 * Whether this engine validates the (relaxed) SIMD kernel module *and* it computes a known
 * answer (4 rows × 64 dims, both signs). The run matters for relaxed SIMD: V8 11.3 (Node 20)
 * behind --experimental-wasm-relaxed-simd validates the opcode but returns 2× the dot product.
 * Cached.
 */
export function wasmKernelSupported(relaxed = false): boolean {
  let ok = support.get(relaxed);
  if (ok === undefined) {
    try {
      ok = typeof WebAssembly === 'object' && WebAssembly.validate(kernelModuleBytes(relaxed)) && knownAnswer(relaxed);
    } catch {
      ok = false;
    }
    support.set(relaxed, ok);
  }
  return ok;
}

function knownAnswer(relaxed: boolean): boolean {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = instantiateKernels(memory, relaxed);
  const dim = 64;
  const Q = 0,
    CODES = 256,
    SCALES = 1024,
    SUMS = 1040,
    OUT = 1056,
    IDX = 1088;
  const i8 = new Int8Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const i16 = new Int16Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const f32 = new Float32Array(memory.buffer);
  const q: number[] = [];
  for (let i = 0; i < dim; i++) q.push(relaxed ? ((i * 37) % 127) - 63 : ((i * 9973) % 32767) - 16383);
  for (let i = 0; i < dim; i++) {
    if (relaxed) u8[Q + i] = q[i] + 64;
    else i16[Q / 2 + i] = q[i];
  }
  const want: number[] = [];
  for (let r = 0; r < 4; r++) {
    let dot = 0;
    let sum = 0;
    for (let i = 0; i < dim; i++) {
      const c = (((i + 1) * (r + 3) * 29) % 255) - 127;
      i8[CODES + ((i >> 6) << 8) + r * 64 + (i & 63)] = c; // blocked layout, dim = one chunk
      dot += c * q[i];
      sum += c;
    }
    f32[SCALES / 4 + r] = 1;
    i32[SUMS / 4 + r] = sum;
    i32[IDX / 4 + r] = 3 - r;
    want.push(Math.fround(dot));
  }
  if (relaxed) k.scan(Q, CODES, dim, 4, SCALES, SUMS, OUT, 1);
  else k.scan(Q, CODES, dim, 4, SCALES, OUT, 1);
  for (let r = 0; r < 4; r++) if (f32[OUT / 4 + r] !== want[r]) return false;
  if (relaxed) k.gather(Q, CODES, dim, IDX, 4, SCALES, SUMS, OUT, 1);
  else k.gather(Q, CODES, dim, IDX, 4, SCALES, OUT, 1);
  for (let r = 0; r < 4; r++) if (f32[OUT / 4 + r] !== want[3 - r]) return false;
  return true;
}

export interface WasmKernels {
  /** Non-relaxed: (q, codes, stride, count, scales, out, qs). Relaxed: (q, codes, stride, count, scales, sums, out, qs). */
  scan: (...args: number[]) => void;
  /** Non-relaxed: (q, codes, stride, idx, count, scales, out, qs). Relaxed: (q, codes, stride, idx, count, scales, sums, out, qs). */
  gather: (...args: number[]) => void;
}

const modules = new Map<boolean, WebAssembly.Module>();

/**
 * Synchronous instantiation is fine: the module is far below Chromium's 4 KiB limit for
 * main-thread synchronous compiles (checked in the tests).
 */
export function instantiateKernels(memory: WebAssembly.Memory, relaxed = false): WasmKernels {
  let mod = modules.get(relaxed);
  if (!mod) {
    mod = new WebAssembly.Module(kernelModuleBytes(relaxed));
    modules.set(relaxed, mod);
  }
  const inst = new WebAssembly.Instance(mod, { env: { mem: memory } });
  return inst.exports as unknown as WasmKernels;
}
