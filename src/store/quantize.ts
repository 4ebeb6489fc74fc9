/**
 * Sparse weight quantiser. Dense and ColBERT vectors use the dense kernel's int8 quantiser
 * (rank/dense-scan.ts), so stored codes are exactly what the scan expects.
 *
 * Sparse weights: uint8 with one scale per segment (max weight ↦ 255). M3 weights are ≥ 0 and
 * rarely above 0.5, so the absolute error ≤ scale/2 ≈ 0.001 per weight — measured on the ranking in
 * the tests (uint8 vs fp16: half the bytes, same top-10).
 */
import { quantizeInt8Into } from '../rank/dense-scan.ts';
import { assemble, Body, I32, V128 } from '../rank/wasm-assembler.ts';

/** uint8 scale for sparse weights: max weight maps to 255. */
export function uint8Scale(maxWeight: number): number {
  return maxWeight > 0 && Number.isFinite(maxWeight) ? maxWeight / 255 : 1;
}

/** Quantised weights never round to 0: a kept token must keep matching (it had weight > 0). */
export function quantizeUint8(w: number, scale: number): number {
  const q = Math.round(w / scale);
  return q < 1 ? 1 : q > 255 ? 255 : q;
}

/**
 * quantizeInt8Into (rank/dense-scan.ts) for the rows of a batch, with a WASM SIMD kernel where it runs: the
 * same codes and scales bit for bit (the kernel does the scalar code's double arithmetic, two lanes at a
 * time), ~10× less time per 1024-d row than the scalar loop, which ingest ran for every vector. `vecs[r]`
 * (dims floats; undefined: row r is left alone) goes to codes[r·dims…] and scales[r].
 */
export function quantizeInt8Rows(vecs: ArrayLike<Float32Array | undefined>, dims: number, codes: Int8Array, scales: Float32Array): void {
  const k = dims > 0 && dims % 4 === 0 ? int8Kernel(dims) : null;
  for (let r = 0; r < vecs.length; r++) {
    const v = vecs[r];
    if (!v) continue;
    if (!k) {
      scales[r] = quantizeInt8Into(v, 0, dims, codes, r * dims);
      continue;
    }
    k.f32.set(v.length === dims ? v : v.subarray(0, dims));
    k.maxAbs(0, dims, k.scratch);
    const l = k.lanes;
    const max = Math.max(l[0], l[1], l[2], l[3]);
    // NaN or ±Infinity: the scalar code throws its error; 0: a zero row.
    if (!(max < Infinity) || max === 0) {
      scales[r] = quantizeInt8Into(v, 0, dims, codes, r * dims);
      continue;
    }
    const scale = Math.fround(max / 127);
    k.quant(0, dims, 1 / scale, k.out);
    codes.set(k.i8.subarray(k.out, k.out + dims), r * dims);
    scales[r] = scale;
  }
}

/** For tests: whether quantizeInt8Rows runs the WASM kernel for rows of `dims` here. */
export function int8KernelInUse(dims: number): boolean {
  return dims > 0 && dims % 4 === 0 && int8Kernel(dims) !== null;
}

interface Int8Kernel {
  maxAbs(src: number, n: number, dst: number): void;
  quant(src: number, n: number, inv: number, dst: number): void;
  f32: Float32Array;
  i8: Int8Array;
  lanes: Float32Array;
  /** Byte offsets of the max lanes and the codes. */
  scratch: number;
  out: number;
  dims: number;
}

let kernel: Int8Kernel | null | undefined;

/** The kernel with room for one row of `dims` floats (null: no WASM SIMD here). */
function int8Kernel(dims: number): Int8Kernel | null {
  if (kernel === null || (kernel && kernel.dims >= dims)) return kernel;
  try {
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(quantizeModuleBytes())) return (kernel = null);
    const scratch = dims * 4;
    const out = scratch + 16;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((out + dims) / 65536) });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(quantizeModuleBytes()), { env: { mem: memory } });
    const e = inst.exports as unknown as Pick<Int8Kernel, 'maxAbs' | 'quant'>;
    const { buffer } = memory;
    kernel = {
      maxAbs: e.maxAbs,
      quant: e.quant,
      f32: new Float32Array(buffer, 0, dims),
      i8: new Int8Array(buffer),
      lanes: new Float32Array(buffer, scratch, 4),
      scratch,
      out,
      dims,
    };
  } catch {
    kernel = null;
  }
  return kernel;
}

const F64 = 0x7c;
const simd = (b: Body, sub: number, ...imm: number[]) => {
  b.simd(sub);
  b.code.push(...imm);
  return b;
};

/**
 * maxAbs(src, n, dst): the lane-wise max of |x| over n floats (n a multiple of 4) stored at dst (NaN wins).
 * quant(src, n, inv, dst): per float x, trunc(x·inv ± 0.5) in doubles (sign of x·inv), as int8 at dst.
 */
function quantizeModuleBytes(): Uint8Array<ArrayBuffer> {
  const m = new Body([I32, I32, I32]);
  const [src, n, dst] = [0, 1, 2];
  const acc = m.local(V128);
  const end = m.local(I32);
  m.v128zero().set(acc);
  m.get(src).get(n).i32(2).shl().add().set(end);
  m.block().loop();
  m.get(acc).get(src).v128load();
  simd(m, 0xe0); // f32x4.abs
  simd(m, 0xe9).set(acc); // f32x4.max
  m.get(src).i32(16).add().set(src);
  m.get(src).get(end).ltU().brIf(0);
  m.end().end();
  m.get(dst).get(acc).v128store();

  const q = new Body([I32, I32, F64, I32]);
  const [qs, qn, inv, qd] = [0, 1, 2, 3];
  const invv = q.local(V128);
  const d = q.local(V128);
  const qend = q.local(I32);
  q.get(inv);
  simd(q, 0x14).set(invv); // f64x2.splat
  q.get(qs).get(qn).i32(2).shl().add().set(qend);
  q.block().loop();
  q.get(qs);
  simd(q, 0x5d, 3, 0); // v128.load64_zero: two floats
  simd(q, 0x5f); // f64x2.promote_low_f32x4
  q.get(invv);
  simd(q, 0xf2).set(d); // f64x2.mul
  // d + copysign(0.5, d), then truncation: the scalar code's (v < 0 ? v - 0.5 : v + 0.5) | 0.
  q.get(d).get(d).v128const([0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80]).v128and();
  q.v128const([0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f]);
  simd(q, 0x50); // v128.or
  simd(q, 0xf0); // f64x2.add
  simd(q, 0xfc, 0x01).set(d); // i32x4.trunc_sat_f64x2_s_zero
  q.get(d).get(d);
  simd(q, 0x85).set(d); // i16x8.narrow_i32x4_s
  q.get(qd).get(d).get(d);
  simd(q, 0x65); // i8x16.narrow_i16x8_s
  simd(q, 0x59, 0, 0, 0); // v128.store16_lane, lane 0
  q.get(qs).i32(8).add().set(qs);
  q.get(qd).i32(2).add().set(qd);
  q.get(qs).get(qend).ltU().brIf(0);
  q.end().end();
  return assemble([
    { name: 'maxAbs', body: m, results: [] },
    { name: 'quant', body: q, results: [] },
  ]);
}
