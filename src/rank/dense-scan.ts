/**
 * Dense-vector scan: int8 document vectors held in (growable) WebAssembly memory and scored
 * in place by a WASM SIMD128 kernel, one call per query; JS picks the top-k.
 *
 * Why int8: 100k × 1024 fp32 is 400 MB and a plain-JS fp32 scan is ~100 ms; int8 is 4× less
 * memory traffic and WASM SIMD multiplies 8 dims per instruction. Per-vector symmetric scales
 * keep recall@10 ≈ 0.985 against exact fp32. Measured (bench/dense-scan.bench.ts, 2-core EPYC,
 * 100k × 1024, search incl. quantise + top-10): 3.7 ms p50 in Chromium 156, ~4.3 ms in Node 20,
 * vs 58 / 82 ms for a plain-JS fp32 scan. The relaxed-SIMD kernel ('relaxed', opt-in) is 3.2 ms
 * in Chromium but costs recall (7-bit query: 0.970 / 0.962) and Node 20 lacks it, so 'auto'
 * never picks it.
 *
 * Scores: dot(q_int, d_int) · s_q · s_d, evaluated in float32 as
 * `fround(fround(fround(dot) · s_d) · s_q)` by every kernel, so the SIMD kernel and the JS
 * fallback agree bit for bit. The query is quantised to int16 by default (it is widened to i16
 * for the kernel anyway, so the extra precision is free), within a bound that keeps the i32
 * accumulators from overflowing.
 */
import {
  CHUNK,
  STRIDE_ALIGN,
  instantiateKernels,
  instantiateSignScan,
  signScanRow,
  signScanSupported,
  wasmKernelSupported,
  type SignScanKernel,
  type WasmKernels,
} from './dense-scan-wasm.ts';
import { RESIDUAL_STEPS, residualBytes, residualDot } from './dense-residual.ts';
import type { PackRowsKernel } from './dense-append-wasm.ts';

// ---------- quantisation ----------

export interface Int8Vector {
  codes: Int8Array;
  /** float32 value: x ≈ codes · scale. 0 for an all-zero vector. */
  scale: number;
}

/**
 * Quantises `vec[offset .. offset+dim)` into `out[outOffset ..]` and returns the float32 scale.
 * q_i = round(x_i / s), s = max|x| / 127, so |x_i − q_i·s| ≤ s/2 and |q_i| ≤ 127 (never −128).
 */
export function quantizeInt8Into(vec: ArrayLike<number>, offset: number, dim: number, out: Int8Array, outOffset: number): number {
  let max = 0;
  for (let i = 0; i < dim; i++) {
    const a = Math.abs(vec[offset + i]);
    if (a > max) max = a;
    else if (a !== a) throw new Error('quantizeInt8: vector contains NaN');
  }
  if (max === Infinity) throw new Error('quantizeInt8: vector contains ±Infinity');
  if (max === 0) {
    out.fill(0, outOffset, outOffset + dim);
    return 0;
  }
  const scale = Math.fround(max / 127);
  const inv = 1 / scale;
  for (let i = 0; i < dim; i++) {
    const v = vec[offset + i] * inv;
    // Round half away from zero (symmetric) by truncating v ± 0.5: ~2.5× faster than Math.round with a sign
    // branch (ingest quantises every vector). |v| ≤ 127 plus float slack, so the truncation stays in ±127.
    out[outOffset + i] = (v < 0 ? v - 0.5 : v + 0.5) | 0;
  }
  return scale;
}

export function quantizeInt8(vec: Float32Array): Int8Vector {
  const codes = new Int8Array(vec.length);
  const scale = quantizeInt8Into(vec, 0, vec.length, codes, 0);
  return { codes, scale };
}

/** Row-major batch: `vectors.length / dim` rows. */
export function quantizeInt8Batch(vectors: Float32Array, dim: number): { codes: Int8Array; scales: Float32Array } {
  if (dim <= 0 || vectors.length % dim !== 0) throw new Error(`quantizeInt8Batch: length ${vectors.length} is not a multiple of dim ${dim}`);
  const n = vectors.length / dim;
  const codes = new Int8Array(vectors.length);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) scales[r] = quantizeInt8Into(vectors, r * dim, dim, codes, r * dim);
  return { codes, scales };
}

export function dequantizeInt8(codes: Int8Array, scale: number): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] * scale;
  return out;
}

// ---------- storage ----------

/** Which scoring kernel a matrix uses. 'relaxed' needs relaxed SIMD (not in Node 20 by default). */
export type DenseKernel = 'simd' | 'relaxed' | 'js';

export interface DenseMatrixOptions {
  /** 'auto' (default): 'simd' when WebAssembly SIMD validates, else 'js'. Never picks 'relaxed'. */
  kernel?: DenseKernel | 'auto';
  /** Rows to reserve up front (saves regrowth when the corpus size is known). */
  initialCapacity?: number;
  /**
   * Query precision for 'simd'/'js': 16 (default; ±16383 at d=1024, free) or 8 (±127).
   * 'relaxed' always uses 7 bits (±63).
   */
  queryBits?: 8 | 16;
}

/** How a full search finds its rows: see DenseMatrix.search. */
export type DenseFirstStage = 'binary' | 'int8';

export interface DenseSearchOptions {
  /** Rows to consider: a mask (nonzero = allowed, indexed by row) or a predicate. */
  filter?: Uint8Array | ((row: number) => boolean);
  /** Score only these rows (e.g. the BM25 / sparse candidates). */
  candidates?: Uint32Array;
  /**
   * 'binary': scan the rows' sign bits (1 bit per dimension) against the full query, then rescore the
   * best `rescore` rows with the int8 codes. 'int8': score every row's int8 codes (exhaustive).
   * Default: 'binary' from BINARY_MIN_ROWS live rows up, 'int8' below.
   */
  firstStage?: DenseFirstStage;
  /** Rows rescored after the binary stage (default: defaultRescore(live rows), or defaultRefineRescore's where rows are refined). */
  rescore?: number;
  /**
   * Where the matrix holds residuals (dense-residual.ts): false scores with the int8 codes alone; by default
   * the best max(k, REFINE_MIN) rows of the int8 ranking are re-ranked with code + residual.
   */
  refine?: boolean;
}

/** Below this many live rows the exhaustive int8 scan is cheap enough to stay the default. */
export const BINARY_MIN_ROWS = 20_000;

/**
 * Rows the binary stage hands to the int8 rescoring by default: RESCORE_FRACTION of the rows, at least
 * RESCORE_MIN. Chosen from the measured candidates-vs-recall curve (bench/results.json `denseCurve`).
 */
export const RESCORE_FRACTION = 0.03;
export const RESCORE_MIN = 1000;
export function defaultRescore(rows: number): number {
  return Math.max(RESCORE_MIN, Math.ceil(rows * RESCORE_FRACTION));
}

/**
 * With residuals the binary stage must hand over more rows (a refined top 10 can only be as good as the
 * candidates it is picked from): 6% of the rows. Measured at 100k (workload vectors, 100 queries): 3% →
 * 83% top-10 = fp32, 5% → 95%, 8% → 97%, 12% → 99% (README, "dense refinement").
 */
export const REFINE_RESCORE_FRACTION = 0.06;
export function defaultRefineRescore(rows: number): number {
  return Math.max(RESCORE_MIN, Math.ceil(rows * REFINE_RESCORE_FRACTION));
}

/** Rows of the int8 ranking re-ranked with their residuals (at least; k when k is larger). */
export const REFINE_MIN = 32;

export interface DenseHits {
  rows: Uint32Array;
  scores: Float32Array;
}

const WASM_PAGE = 65536;
const MAX_WASM_BYTES = 65536 * WASM_PAGE; // wasm32: 4 GiB
const I32_MAX = 2147483647;

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Memory backing: a WebAssembly.Memory (kernels read it in place) or a plain ArrayBuffer. */
interface Heap {
  buffer(): ArrayBuffer;
  /** Ensure at least `bytes`; keeps the old contents. */
  ensure(bytes: number): void;
}

class WasmHeap implements Heap {
  readonly memory: WebAssembly.Memory;
  constructor(bytes: number) {
    this.memory = new WebAssembly.Memory({ initial: 1 });
    this.ensure(bytes); // one place for the limit check and the clear error
  }
  buffer(): ArrayBuffer {
    return this.memory.buffer;
  }
  ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    if (bytes > MAX_WASM_BYTES) {
      throw new RangeError(
        `DenseMatrix: ${(bytes / 2 ** 20).toFixed(0)} MiB needed, over the 4 GiB wasm32 memory limit; shard the index across several matrices`,
      );
    }
    try {
      this.memory.grow(Math.ceil((bytes - have) / WASM_PAGE));
    } catch (e) {
      throw new RangeError(
        `DenseMatrix: WebAssembly memory could not grow from ${(have / 2 ** 20).toFixed(0)} to ${(bytes / 2 ** 20).toFixed(0)} MiB (${(e as Error).message}); the engine or device is out of memory`,
      );
    }
  }
}

class ArrayHeap implements Heap {
  private buf: ArrayBuffer;
  constructor(bytes: number) {
    this.buf = new ArrayBuffer(bytes);
  }
  buffer(): ArrayBuffer {
    return this.buf;
  }
  ensure(bytes: number): void {
    if (bytes <= this.buf.byteLength) return;
    let next: ArrayBuffer;
    try {
      next = new ArrayBuffer(bytes);
    } catch (e) {
      throw new RangeError(`DenseMatrix: could not allocate ${(bytes / 2 ** 20).toFixed(0)} MiB (${(e as Error).message})`);
    }
    new Uint8Array(next).set(new Uint8Array(this.buf));
    this.buf = next;
  }
}

function pickKernel(k: DenseKernel | 'auto' | undefined): DenseKernel {
  const want = k ?? 'auto';
  if (want === 'js') return 'js';
  if (want === 'auto') return wasmKernelSupported(false) ? 'simd' : 'js';
  if (!wasmKernelSupported(want === 'relaxed')) {
    throw new Error(`DenseMatrix: kernel '${want}' is not supported by this engine (WebAssembly ${want === 'relaxed' ? 'relaxed ' : ''}SIMD)`);
  }
  return want;
}

/** The row-packing kernel's factory once dense-append-wasm.ts is loaded (usePackRows); appends use a JS loop before. */
let packRows: ((memory: WebAssembly.Memory) => PackRowsKernel | null) | null = null;

/**
 * Hands DenseMatrix the row-packing kernel (dense-append-wasm.ts's instantiatePackRows): a cold open loads it beside
 * the IndexedDB read, so the search path does not ship it and nothing waits for it.
 */
export function usePackRows(factory: (memory: WebAssembly.Memory) => PackRowsKernel | null): void {
  packRows = factory;
}

/**
 * Many int8 vectors of one dimension. Rows are append-only ids (0, 1, 2, …); `removeRow` marks
 * a tombstone that every search skips, `compact()` reclaims them and returns the renumbering.
 *
 * Memory layout (byte offsets into the heap; the kernels get pointers):
 *   [64: i16 query][i8 query (relaxed)][sign tables: 32 × stride/8][codes: cap × stride]
 *   [scales f32: cap][sums i32: cap][sign bits: align16(cap) × stride/8][scratch out f32: S][scratch idx u32: S]
 * The sign bits are derived from the codes on every write (bit = code < 0), in blocks of 16 rows
 * transposed by byte (see signScanKernel); they cost 1/8 of the codes in memory and nothing on disk.
 * Rows are zero-padded to `stride` (a multiple of 64) so the kernel needs no tail loop, and
 * stored in blocks of 4 rows interleaved by 64-byte chunk (see Row blocks in dense-scan-wasm.ts)
 * so a scan is one sequential stream; the capacity is a multiple of 4 because the kernel scores
 * 4 rows per step (the extra slots are scored and ignored).
 */
export class DenseMatrix {
  readonly dim: number;
  readonly kernel: DenseKernel;
  /** Bytes per stored row (dim rounded up to 64). */
  readonly stride: number;
  /** Largest |query code|: 16383 at d=1024 (i16 query), 127 (queryBits 8) or 63 (relaxed). */
  readonly queryMax: number;
  private readonly heap: Heap;
  private readonly wasm: WasmKernels | null;
  private readonly signWasm: SignScanKernel | null;
  /** Packs appended rows (a cold open's); null without WASM SIMD (appendWords' JS loop then). */
  private readonly pack: PackRowsKernel | null = null;
  /** Bytes of sign bits per row (stride / 8). */
  private readonly bitBytes: number;
  /** Largest sign-table entry: 2 · bitBytes · lutMax must fit the kernel's u16 sums. */
  private readonly lutMax: number;
  private hist: Uint32Array | null = null;
  /** Residual nibbles, residualBytes(dim) per row (dense-residual.ts); null until a row brings some. */
  private resid: Uint8Array | null = null;
  private readonly residBytes: number;

  private n = 0;
  private cap = 0;
  private scratch = 0;
  private dead = 0;
  private live: Uint8Array;

  private readonly q16Off = 64;
  private readonly q8Off: number;
  private readonly lutOff: number;
  private readonly codesOff: number;
  private scalesOff = 0;
  private sumsOff = 0;
  private bitsOff = 0;
  private outOff = 0;
  private idxOff = 0;

  private buf: ArrayBuffer | null = null;
  private i8!: Int8Array;
  private u8!: Uint8Array;
  private i16!: Int16Array;
  private u16!: Uint16Array;
  private i32!: Int32Array;
  private u32!: Uint32Array;
  private f32!: Float32Array;

  constructor(dim: number, opts: DenseMatrixOptions = {}) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`DenseMatrix: bad dim ${dim}`);
    this.dim = dim;
    this.kernel = pickKernel(opts.kernel);
    this.stride = align(dim, STRIDE_ALIGN);
    this.residBytes = residualBytes(dim);
    if (this.kernel === 'relaxed') this.queryMax = 63;
    else if (opts.queryBits === 8) this.queryMax = 127;
    else {
      // |Σ d_i q_i| ≤ stride · 128 · Qmax must fit an i32 accumulator (codes may be −128 if set externally).
      this.queryMax = Math.min(32767, Math.floor(I32_MAX / (128 * this.stride)));
      if (this.queryMax < 127) throw new Error(`DenseMatrix: dim ${dim} too large for i32 accumulation`);
    }
    this.q8Off = this.q16Off + align(2 * this.stride, 64);
    this.bitBytes = this.stride / 8;
    this.lutMax = Math.min(127, Math.floor(65535 / (2 * this.bitBytes)));
    this.lutOff = this.q8Off + align(this.stride, 64);
    this.codesOff = this.lutOff + align(32 * this.bitBytes, 64);
    const cap = align(Math.max(4, opts.initialCapacity ?? 64), 4);
    const useWasm = this.kernel !== 'js' && typeof WebAssembly === 'object';
    const bytes = this.layoutBytes(cap, cap + 4);
    if (useWasm) {
      const heap = new WasmHeap(bytes);
      this.heap = heap;
      this.wasm = instantiateKernels(heap.memory, this.kernel === 'relaxed');
      this.signWasm = signScanSupported() ? instantiateSignScan(heap.memory) : null;
      this.pack = packRows?.(heap.memory) ?? null;
    } else {
      this.heap = new ArrayHeap(bytes);
      this.wasm = null;
      this.signWasm = null;
    }
    this.live = new Uint8Array(cap);
    this.setLayout(cap, cap + 4);
  }

  /** Row ids in use, removed rows included (ids run 0 .. size−1). */
  get size(): number {
    return this.n;
  }
  get liveCount(): number {
    return this.n - this.dead;
  }
  get capacity(): number {
    return this.cap;
  }
  /** Bytes of the backing memory. */
  get byteLength(): number {
    return this.heap.buffer().byteLength;
  }
  isLive(row: number): boolean {
    return row >= 0 && row < this.n && this.live[row] === 1;
  }
  /** Whether rows carry residuals (searches re-rank their best rows with them unless told not to). */
  get refines(): boolean {
    return this.resid !== null;
  }

  /** Makes room for residuals of rows < `rows` (new room is zero: a row without one reads as its int8 code). */
  private reserveResid(rows: number): Uint8Array {
    const need = rows * this.residBytes;
    let r = this.resid;
    if (!r || r.length < need) {
      const next = new Uint8Array(Math.max(need, this.cap * this.residBytes));
      if (r) next.set(r.subarray(0, this.n * this.residBytes));
      this.resid = r = next;
    }
    return r;
  }

  /** Sets rows first.. from `residual` (count rows), or zeroes them where the matrix has residuals. */
  private writeResid(first: number, count: number, residual: Uint8Array | undefined): void {
    if (residual && residual.length !== count * this.residBytes) {
      throw new Error(`DenseMatrix: ${residual.length} residual bytes for ${count} rows of dim ${this.dim} (need ${count * this.residBytes})`);
    }
    if (!residual && !this.resid) return;
    const r = this.reserveResid(first + count);
    if (residual) r.set(residual, first * this.residBytes);
    else r.fill(0, first * this.residBytes, (first + count) * this.residBytes);
  }

  private layoutBytes(cap: number, scratch: number): number {
    return this.codesOff + cap * this.stride + cap * 8 + align(cap, 16) * this.bitBytes + scratch * 8;
  }

  private setLayout(cap: number, scratch: number): void {
    this.cap = cap;
    this.scratch = scratch;
    this.scalesOff = this.codesOff + cap * this.stride;
    this.sumsOff = this.scalesOff + cap * 4;
    this.bitsOff = this.sumsOff + cap * 4;
    this.outOff = this.bitsOff + align(cap, 16) * this.bitBytes;
    this.idxOff = this.outOff + scratch * 4;
  }

  /** (Re)creates typed views after memory growth detached the old buffer. */
  private views(): void {
    const b = this.heap.buffer();
    if (b === this.buf) return;
    this.buf = b;
    this.i8 = new Int8Array(b);
    this.u8 = new Uint8Array(b);
    this.i16 = new Int16Array(b);
    this.u16 = new Uint16Array(b);
    this.i32 = new Int32Array(b);
    this.u32 = new Uint32Array(b);
    this.f32 = new Float32Array(b);
  }

  private reserve(rows: number): void {
    if (rows <= this.cap) return;
    const cap = align(Math.max(rows, Math.floor(this.cap * 1.5)), 4);
    const scratch = Math.max(this.scratch, cap + 4);
    this.heap.ensure(this.layoutBytes(cap, scratch));
    this.views();
    const oldScales = this.scalesOff;
    const oldSums = this.sumsOff;
    const oldBits = this.bitsOff;
    this.setLayout(cap, scratch);
    // The regions move up; move the later ones first so they are not overwritten.
    this.u8.copyWithin(this.bitsOff, oldBits, oldBits + align(this.n, 16) * this.bitBytes);
    this.u8.copyWithin(this.sumsOff, oldSums, oldSums + this.n * 4);
    this.u8.copyWithin(this.scalesOff, oldScales, oldScales + this.n * 4);
    const live = new Uint8Array(cap);
    live.set(this.live.subarray(0, this.n));
    this.live = live;
  }

  private ensureScratch(count: number): void {
    if (count <= this.scratch) return;
    const scratch = align(count, 4);
    this.heap.ensure(this.layoutBytes(this.cap, scratch));
    this.setLayout(this.cap, scratch);
  }

  /** Byte offset of row `row`'s first 64-byte chunk; chunk c is at +c·256 (blocked layout). */
  private rowOff(row: number): number {
    return this.codesOff + (row >> 2) * 4 * this.stride + (row & 3) * CHUNK;
  }

  private writeRow(row: number, codes: Int8Array, from: number, scale: number): void {
    const off = this.rowOff(row);
    const src = codes.subarray(from, from + this.dim);
    for (let c = 0, o = off; c < this.dim; c += CHUNK, o += 4 * CHUNK) {
      const part = src.subarray(c, c + CHUNK);
      this.i8.set(part, o);
      if (part.length < CHUNK) this.i8.fill(0, o + part.length, o + CHUNK); // zero tail padding
    }
    let sum = 0;
    for (let i = 0; i < src.length; i++) sum += src[i];
    this.f32[(this.scalesOff >> 2) + row] = scale;
    this.i32[(this.sumsOff >> 2) + row] = sum;
    this.packSigns(row);
  }

  /**
   * Writes row `row`'s sign bits from its stored codes: bit k of byte j is 1 when dimension 8j + k is
   * negative. Four codes are one little-endian word, so a nibble is the words' four byte sign bits.
   */
  private packSigns(row: number): void {
    const w = this.i32;
    const u8 = this.u8;
    let o = this.bitsOff + (row >> 4) * 16 * this.bitBytes + (row & 15);
    const CW = CHUNK >> 2;
    for (let c = 0, at = this.rowOff(row) >> 2; c < this.stride; c += CHUNK, at += CHUNK) {
      for (let i = 0; i < CW; i += 2, o += 16) {
        const a = w[at + i];
        const b = w[at + i + 1];
        u8[o] =
          ((a >>> 7) & 1) |
          ((a >>> 14) & 2) |
          ((a >>> 21) & 4) |
          ((a >>> 28) & 8) |
          ((b >>> 3) & 16) |
          ((b >>> 10) & 32) |
          ((b >>> 17) & 64) |
          ((b >>> 24) & 128);
      }
    }
  }

  /**
   * Appends `scales.length` rows (codes row-major, dim each) and, optionally, their residuals
   * (residualBytes(dim) per row); returns the first new row id.
   */
  append(codes: Int8Array, scales: Float32Array | ArrayLike<number>, residual?: Uint8Array): number {
    const count = scales.length;
    if (codes.length !== count * this.dim) {
      throw new Error(`DenseMatrix.append: ${codes.length} codes for ${count} rows of dim ${this.dim}`);
    }
    const first = this.n;
    this.reserve(first + count);
    this.writeResid(first, count, residual);
    this.views();
    if (this.kernel !== 'relaxed' && this.dim % 4 === 0) {
      this.appendWords(first, codes, scales);
    } else {
      for (let r = 0; r < count; r++) this.writeRow(first + r, codes, r * this.dim, scales[r]);
    }
    this.live.fill(1, first, first + count);
    this.n = first + count;
    return first;
  }

  /**
   * Bulk form of writeRow for whole batches (a cold open appends every stored row): 4-byte words
   * copied straight into the blocked layout, no per-chunk views. Row sums are only read by the
   * relaxed kernel, which keeps writeRow.
   */
  private appendWords(first: number, codes: Int8Array, scales: Float32Array | ArrayLike<number>): void {
    const count = scales.length;
    if (this.pack && this.dim % CHUNK === 0) return this.appendPacked(first, codes, scales);
    const words = this.dim >> 2;
    const src =
      codes.byteOffset % 4 === 0 ? new Int32Array(codes.buffer, codes.byteOffset, count * words) : new Int32Array(codes.slice(0, count * this.dim).buffer); // unaligned: one memcpy to an aligned copy
    const dst = this.i32;
    const f32 = this.f32;
    const scales0 = this.scalesOff >> 2;
    const CW = CHUNK >> 2; // words per chunk
    for (let r = 0; r < count; r++) {
      const row = first + r;
      let o = this.rowOff(row) >> 2;
      let s = r * words;
      for (let c = 0; c < words; c += CW, o += 4 * CW) {
        const m = words - c < CW ? words - c : CW;
        for (let i = 0; i < m; i++) dst[o + i] = src[s++];
        for (let i = m; i < CW; i++) dst[o + i] = 0; // zero tail padding
      }
      f32[scales0 + row] = scales[r];
      this.packSigns(row);
    }
  }

  /**
   * appendWords by the WASM packing kernel (dense-append-wasm.ts): rows staged row-major in the search scratch
   * (idle while rows are appended), then each packed with its sign bits. Rows without tail padding only.
   */
  private appendPacked(first: number, codes: Int8Array, scales: Float32Array | ArrayLike<number>): void {
    const count = scales.length;
    const dim = this.dim;
    this.ensureScratch(align(8 * dim, 4)); // room to stage 64 rows at least (8 bytes a scratch entry)
    this.views();
    const stage = this.outOff;
    const per = Math.floor((this.scratch * 8) / dim);
    const bytes = new Uint8Array(codes.buffer, codes.byteOffset, count * dim);
    const f32 = this.f32;
    const scales0 = this.scalesOff >> 2;
    const chunks = this.stride / CHUNK;
    for (let r0 = 0; r0 < count; r0 += per) {
      const m = Math.min(per, count - r0);
      this.u8.set(bytes.subarray(r0 * dim, (r0 + m) * dim), stage);
      for (let r = 0; r < m; r++) {
        const row = first + r0 + r;
        this.pack!.packRow(stage + r * dim, this.rowOff(row), this.bitsOff + (row >> 4) * 16 * this.bitBytes + (row & 15), chunks);
        f32[scales0 + row] = scales[r0 + r];
      }
    }
  }

  /** Quantises and appends fp32 rows (row-major); returns the first new row id. */
  appendFloat(vectors: Float32Array): number {
    const { codes, scales } = quantizeInt8Batch(vectors, this.dim);
    return this.append(codes, scales);
  }

  /** Overwrites a row (and revives it if it was removed); without a residual, the row's is zero. */
  setRow(row: number, codes: Int8Array, scale: number, residual?: Uint8Array): void {
    this.checkRow(row);
    if (codes.length !== this.dim) throw new Error(`DenseMatrix.setRow: ${codes.length} codes, dim is ${this.dim}`);
    this.writeResid(row, 1, residual);
    this.views();
    this.writeRow(row, codes, 0, scale);
    if (this.live[row] === 0) {
      this.live[row] = 1;
      this.dead--;
    }
  }

  /** Tombstones a row: searches skip it; its id stays reserved until `compact()`. */
  removeRow(row: number): void {
    this.checkRow(row);
    if (this.live[row] === 1) {
      this.live[row] = 0;
      this.dead++;
    }
  }

  /**
   * Drops removed rows, renumbering the rest in order. Returns old row → new row (−1 for removed);
   * the caller must remap its row → key table.
   */
  compact(): Int32Array {
    this.views();
    const map = new Int32Array(this.n).fill(-1);
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      if (this.live[r] !== 1) continue;
      if (w !== r) {
        for (let c = 0, from = this.rowOff(r), to = this.rowOff(w); c < this.stride; c += CHUNK, from += 4 * CHUNK, to += 4 * CHUNK) {
          this.u8.copyWithin(to, from, from + CHUNK);
        }
        this.f32[(this.scalesOff >> 2) + w] = this.f32[(this.scalesOff >> 2) + r];
        this.i32[(this.sumsOff >> 2) + w] = this.i32[(this.sumsOff >> 2) + r];
        this.packSigns(w);
        this.resid?.copyWithin(w * this.residBytes, r * this.residBytes, (r + 1) * this.residBytes);
      }
      map[r] = w++;
    }
    this.n = w;
    this.dead = 0;
    this.live.fill(1, 0, w);
    this.live.fill(0, w);
    return map;
  }

  /** A copy of a stored row, for persistence. */
  getRow(row: number): Int8Vector {
    this.checkRow(row);
    this.views();
    const codes = new Int8Array(this.dim);
    for (let c = 0, o = this.rowOff(row); c < this.dim; c += CHUNK, o += 4 * CHUNK) {
      codes.set(this.i8.subarray(o, o + Math.min(CHUNK, this.dim - c)), c);
    }
    return { codes, scale: this.f32[(this.scalesOff >> 2) + row] };
  }

  dequantizeRow(row: number): Float32Array {
    const { codes, scale } = this.getRow(row);
    return dequantizeInt8(codes, scale);
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.n) throw new RangeError(`DenseMatrix: row ${row} out of range [0, ${this.n})`);
  }

  /** Quantises the query into the kernel's query slot; returns its float32 scale. */
  private loadQuery(query: Float32Array): number {
    if (query.length !== this.dim) throw new Error(`DenseMatrix: query has dim ${query.length}, expected ${this.dim}`);
    this.views();
    let max = 0;
    let nan = false;
    for (let i = 0; i < query.length; i++) {
      const a = Math.abs(query[i]);
      if (a > max) max = a;
      else if (a !== a) nan = true;
    }
    if (nan || max === Infinity) throw new Error('DenseMatrix: query contains NaN or ±Infinity');
    const qmax = this.queryMax;
    const s = max > 0 ? Math.fround(max / qmax) : 0;
    const inv = s > 0 ? 1 / s : 0;
    if (this.kernel === 'relaxed') {
      // 7-bit query offset into [1, 127] so relaxed_dot's i7 operand is never negative.
      const base = this.q8Off;
      for (let i = 0; i < this.dim; i++) {
        const v = query[i] * inv;
        const qi = Math.max(-qmax, Math.min(qmax, v < 0 ? -Math.round(-v) : Math.round(v)));
        this.u8[base + i] = qi + 64;
      }
      this.u8.fill(64, base + this.dim, base + this.stride);
    } else {
      const base = this.q16Off >> 1;
      for (let i = 0; i < this.dim; i++) {
        const v = query[i] * inv;
        this.i16[base + i] = Math.max(-qmax, Math.min(qmax, v < 0 ? -Math.round(-v) : Math.round(v)));
      }
      this.i16.fill(0, base + this.dim, base + this.stride);
    }
    return s;
  }

  /** Scores rows 0..n−1 (rounded up to 4) into the out scratch. */
  private scoreAllInto(qs: number): void {
    const count = align(this.n, 4);
    if (count === 0) return;
    if (this.wasm) {
      if (this.kernel === 'relaxed') {
        this.wasm.scan(this.q8Off, this.codesOff, this.stride, count, this.scalesOff, this.sumsOff, this.outOff, qs);
      } else {
        this.wasm.scan(this.q16Off, this.codesOff, this.stride, count, this.scalesOff, this.outOff, qs);
      }
    } else {
      const out = this.outOff >> 2;
      for (let r = 0; r < this.n; r++) this.f32[out + r] = this.jsScore(r, qs);
    }
  }

  /** Scores rows[j] into out[j]; rows must be < n. */
  private scoreListInto(rows: ArrayLike<number>, qs: number): void {
    const m = rows.length;
    if (m === 0) return;
    const padded = align(m, 4);
    this.ensureScratch(padded);
    this.views();
    if (this.wasm) {
      const idx = this.idxOff >> 2;
      for (let j = 0; j < m; j++) this.u32[idx + j] = rows[j];
      for (let j = m; j < padded; j++) this.u32[idx + j] = rows[0];
      if (this.kernel === 'relaxed') {
        this.wasm.gather(this.q8Off, this.codesOff, this.stride, this.idxOff, padded, this.scalesOff, this.sumsOff, this.outOff, qs);
      } else {
        this.wasm.gather(this.q16Off, this.codesOff, this.stride, this.idxOff, padded, this.scalesOff, this.outOff, qs);
      }
    } else {
      const out = this.outOff >> 2;
      for (let j = 0; j < m; j++) this.f32[out + j] = this.jsScore(rows[j], qs);
    }
  }

  /** The JS reference kernel: same integers, same float32 rounding sequence as the wasm one. */
  private jsScore(row: number, qs: number): number {
    const c = this.i8;
    const q = this.i16;
    let o = this.rowOff(row);
    let qi = this.q16Off >> 1;
    const end = qi + this.stride;
    let acc = 0;
    for (; qi < end; o += 3 * CHUNK) {
      for (let i = 0; i < CHUNK; i += 8, qi += 8, o += 8) {
        acc +=
          c[o] * q[qi] +
          c[o + 1] * q[qi + 1] +
          c[o + 2] * q[qi + 2] +
          c[o + 3] * q[qi + 3] +
          c[o + 4] * q[qi + 4] +
          c[o + 5] * q[qi + 5] +
          c[o + 6] * q[qi + 6] +
          c[o + 7] * q[qi + 7];
      }
    }
    return Math.fround(Math.fround(Math.fround(acc) * this.f32[(this.scalesOff >> 2) + row]) * qs);
  }

  private checkRows(rows: ArrayLike<number>): void {
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j];
      if (!(r >= 0 && r < this.n) || !Number.isInteger(r)) throw new RangeError(`DenseMatrix: row ${r} out of range [0, ${this.n})`);
    }
  }

  /**
   * Approximate dot-product scores of the query against the given rows (removed rows are scored
   * too; check `isLive` if that matters). For fusion with other rankers.
   */
  scoreRows(query: Float32Array, rows: ArrayLike<number>): Float32Array {
    this.checkRows(rows);
    if (this.resid) {
      const out = new Float32Array(rows.length);
      for (let j = 0; j < rows.length; j++) out[j] = this.refinedScore(query, rows[j]);
      return out;
    }
    const qs = this.loadQuery(query);
    this.scoreListInto(rows, qs);
    this.views();
    const o = this.outOff >> 2;
    return this.f32.slice(o, o + rows.length);
  }

  /** Scores of every row id 0..size−1 (removed rows included), copied out. */
  scoreAll(query: Float32Array): Float32Array {
    const qs = this.loadQuery(query);
    this.scoreAllInto(qs);
    this.views();
    const o = this.outOff >> 2;
    return this.f32.slice(o, o + this.n);
  }

  /**
   * Top-k live rows by approximate dot product, score descending (ties: lower row id, or earlier
   * candidate, first).
   */
  search(query: Float32Array, k: number, opts: DenseSearchOptions = {}): DenseHits {
    const qs = this.loadQuery(query);
    const cand = opts.candidates;
    const live = this.n - this.dead;
    const refine = this.resid !== null && opts.refine !== false;
    const rescore = opts.rescore ?? (refine ? defaultRefineRescore(live) : defaultRescore(live));
    if (opts.rescore !== undefined && !(Number.isInteger(rescore) && rescore > 0))
      throw new RangeError(`DenseMatrix: rescore must be a positive integer, got ${rescore}`);
    // Refining: the int8 ranking picks `pick` rows, the residuals order them and keep k.
    const pick = refine ? Math.max(k | 0, REFINE_MIN) : k | 0;
    const binary = !cand && (opts.firstStage ?? (live >= BINARY_MIN_ROWS ? 'binary' : 'int8')) === 'binary';
    let hits: DenseHits;
    if (binary && rescore < live && k < rescore) {
      const rows = this.binaryCandidates(query, rescore, opts.filter ?? null);
      this.scoreListInto(rows, qs);
      this.views();
      hits = topK(this.f32, this.outOff >> 2, rows.length, Math.max(0, Math.min(pick, rows.length)), rows, this.live, false, null);
    } else {
      if (cand) {
        this.checkRows(cand);
        this.scoreListInto(cand, qs);
      } else {
        this.scoreAllInto(qs);
      }
      this.views();
      const m = cand ? cand.length : this.n;
      hits = topK(this.f32, this.outOff >> 2, m, Math.max(0, Math.min(pick, m)), cand ?? null, this.live, this.dead > 0, opts.filter ?? null);
    }
    return refine ? this.refineHits(query, hits, k) : hits;
  }

  /** Re-ranks `hits` by code + residual (score descending, ties: lower row first) and keeps the best k. */
  private refineHits(query: Float32Array, hits: DenseHits, k: number): DenseHits {
    const m = hits.rows.length;
    const scores = new Float32Array(m);
    const order = new Uint32Array(m);
    for (let j = 0; j < m; j++) {
      scores[j] = this.refinedScore(query, hits.rows[j]);
      order[j] = j;
    }
    order.sort((a, b) => scores[b] - scores[a] || hits.rows[a] - hits.rows[b]);
    const n = Math.max(0, Math.min(k | 0, m));
    const out: DenseHits = { rows: new Uint32Array(n), scores: new Float32Array(n) };
    for (let j = 0; j < n; j++) {
      out.rows[j] = hits.rows[order[j]];
      out.scores[j] = scores[order[j]];
    }
    return out;
  }

  /**
   * scale · Σ q_i (code_i + r_i / RESIDUAL_STEPS) in float64 with the float query (no query rounding:
   * the point is precision), rounded once to float32.
   */
  private refinedScore(query: Float32Array, row: number): number {
    this.views();
    const c = this.i8;
    let acc = 0;
    for (let d = 0, o = this.rowOff(row); d < this.dim; d += CHUNK, o += 4 * CHUNK) {
      const end = Math.min(CHUNK, this.dim - d);
      for (let i = 0; i < end; i++) acc += query[d + i] * c[o + i];
    }
    const res = this.resid ? residualDot(query, this.resid, row * this.residBytes, this.dim) / RESIDUAL_STEPS : 0;
    return Math.fround((acc + res) * this.f32[(this.scalesOff >> 2) + row]);
  }

  /**
   * The binary first stage: up to `count` allowed live rows with the best sign-bit scores, ascending.
   * Rows are scored Σ_{i: d_i < 0} −q_i (ranks like q · sign(d)) through per-nibble tables of the
   * float query, quantised to 0..lutMax; the best `count` come from a histogram of the u16 scores
   * (ties at the threshold: lower rows first).
   */
  private binaryCandidates(query: Float32Array, count: number, filter: Uint8Array | ((row: number) => boolean) | null): Uint32Array {
    this.views();
    const B = this.bitBytes;
    const T = 2 * B; // tables, one per nibble (4 dimensions)
    // Per table: partial sums of −q over the nibble's set bits, shifted by their minimum.
    const lo = new Float64Array(T);
    let width = 0;
    for (let t = 0; t < T; t++) {
      let neg = 0;
      let pos = 0;
      for (let k = 0; k < 4; k++) {
        const d = 4 * t + k;
        const v = d < this.dim ? -query[d] : 0;
        if (v < 0) neg += v;
        else pos += v;
      }
      lo[t] = neg;
      if (pos - neg > width) width = pos - neg;
    }
    const inv = width > 0 ? this.lutMax / width : 0;
    const u8 = this.u8;
    for (let t = 0, o = this.lutOff; t < T; t++, o += 16) {
      for (let v = 0; v < 16; v++) {
        let sum = 0;
        for (let k = 0; k < 4; k++) {
          const d = 4 * t + k;
          if ((v >> k) & 1 && d < this.dim) sum -= query[d];
        }
        u8[o + v] = Math.round((sum - lo[t]) * inv);
      }
    }
    const n = this.n;
    const blocks = Math.ceil(n / 16);
    const out = this.outOff >> 1;
    if (this.signWasm) this.signWasm.signScan(this.lutOff, this.bitsOff, B, blocks, this.outOff);
    else {
      for (let r = 0; r < n; r++) this.u16[out + r] = signScanRow(u8, this.lutOff, u8, this.bitsOff + (r >> 4) * 16 * B, r & 15, B);
    }
    const scores = this.u16;
    const mask = filter instanceof Uint8Array ? filter : null;
    const pred = typeof filter === 'function' ? filter : null;
    const checkLive = this.dead > 0;
    const allowed = (r: number) => !(checkLive && this.live[r] !== 1) && !(mask && !mask[r]) && !(pred && !pred(r));
    const hist = (this.hist ??= new Uint32Array(65536));
    hist.fill(0);
    let max = 0;
    const plain = !checkLive && !mask && !pred;
    for (let r = 0; r < n; r++) {
      if (!plain && !allowed(r)) continue;
      const s = scores[out + r];
      hist[s]++;
      if (s > max) max = s;
    }
    let above = 0;
    let thr = max;
    for (; thr > 0 && above + hist[thr] < count; thr--) above += hist[thr];
    let ties = count - above;
    const rows = new Uint32Array(Math.min(count, above + hist[thr]));
    let m = 0;
    for (let r = 0; r < n && m < rows.length; r++) {
      const s = scores[out + r];
      if (s < thr || (s === thr && ties === 0)) continue;
      if (!plain && !allowed(r)) continue;
      if (s === thr) ties--;
      rows[m++] = r;
    }
    return rows;
  }
}

/**
 * Threshold top-k over scores[base .. base+m): a row is only looked at further (liveness,
 * filter, insertion) when it beats the current k-th score, which after the first few hundred
 * rows almost none do.
 */
function topK(
  scores: Float32Array,
  base: number,
  m: number,
  k: number,
  cand: Uint32Array | null,
  live: Uint8Array,
  checkLive: boolean,
  filter: Uint8Array | ((row: number) => boolean) | null,
): DenseHits {
  const topS = new Float32Array(k);
  const topR = new Uint32Array(k);
  let size = 0;
  let thr = -Infinity;
  if (k === 0) return { rows: topR, scores: topS };
  const mask = filter instanceof Uint8Array ? filter : null;
  const pred = typeof filter === 'function' ? filter : null;
  for (let j = 0; j < m; j++) {
    const s = scores[base + j];
    // Strict '>' once full: on a tie the earlier row keeps its place.
    if (!(s > thr) && size === k) continue;
    if (size < k && !(s >= -Infinity)) continue; // NaN never ranks
    const row = cand ? cand[j] : j;
    if (checkLive && live[row] !== 1) continue;
    if (mask && !mask[row]) continue;
    if (pred && !pred(row)) continue;
    let i = size < k ? size++ : k - 1;
    while (i > 0 && topS[i - 1] < s) {
      topS[i] = topS[i - 1];
      topR[i] = topR[i - 1];
      i--;
    }
    topS[i] = s;
    topR[i] = row;
    if (size === k) thr = topS[k - 1];
  }
  return size === k ? { rows: topR, scores: topS } : { rows: topR.slice(0, size), scores: topS.slice(0, size) };
}
