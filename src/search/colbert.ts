/**
 * ColBERT late interaction, M3's formula: score(q, d) = (1/|q|) Σ_i max_j q_i · d_j
 * over the query's vectors q_i and the document's stored (int8, per-vector scale) vectors d_j.
 *
 * The dot products are integers: each query vector is quantised once per search to int16 with its
 * own scale (as the dense scan does; the error is ≤ 1/32767 of the vector's largest component), and
 * q_i · d_j = dot(qint_i, dint_j) · s_q,i · s_d,j. A WebAssembly SIMD kernel (dense-scan-wasm.ts
 * `dots`) computes every dot of a document's rows against all query rows at once; the plain-JS
 * fallback computes the same integers, so both give identical scores.
 *
 * Bit-plane coded blocks (schema 5, src/store/colbert-bits.ts) score the same way on the integers 2c − L:
 * the WASM `unpack` kernel writes them as int8 rows for `dots` (1/8 of the bytes to copy at 1 bit), and
 * the JS fallback reads the same integer dots from per-query tables (colbert-compressed.ts);
 * q_i · d_j = dot · s_q,i · step_j/2.
 */
import { dotsKernelSupported, instantiateDots, type DotsKernel } from '../rank/colbert-wasm.ts';
import { bitsStep } from '../store/colbert-bits.ts';
import type { ColbertBitsBlock, ColbertBlock } from '../store/types.ts';
import { bitsDot, patternTables, type PatternTables } from './colbert-compressed.ts';

const I32_MAX = 2147483647;
const PAGE = 65536;

/** A query's vectors quantised for MaxSim against one dimension. */
export interface PreparedColbertQuery {
  dims: number;
  /** Query vectors. */
  nq: number;
  /** nq rounded up to 4 (zero rows pad the kernel's groups of 4). */
  nq4: number;
  /** int16 codes, [nq4 × dims]. */
  codes: Int16Array;
  /** Per query vector: float scale (0 for a zero vector). */
  scales: Float64Array;
}

/** Largest |query code| so that Σ over dims of 128 · q stays inside an i32. */
function queryMax(dims: number): number {
  return Math.min(32767, Math.floor(I32_MAX / (128 * Math.max(dims, 1))));
}

export function prepareColbertQuery(query: Float32Array, dims: number): PreparedColbertQuery {
  const nq = Math.floor(query.length / dims);
  const nq4 = Math.ceil(nq / 4) * 4;
  const codes = new Int16Array(nq4 * dims);
  const scales = new Float64Array(nq4);
  const qmax = queryMax(dims);
  for (let i = 0; i < nq; i++) {
    const o = i * dims;
    let max = 0;
    for (let x = 0; x < dims; x++) {
      const a = Math.abs(query[o + x]);
      if (a > max) max = a;
    }
    if (!(max > 0) || max === Infinity) continue; // zero (or unusable) vector: scores 0
    const s = max / qmax;
    const inv = 1 / s;
    for (let x = 0; x < dims; x++) {
      const v = query[o + x] * inv;
      codes[o + x] = Math.max(-qmax, Math.min(qmax, v < 0 ? -Math.round(-v) : Math.round(v)));
    }
    scales[i] = s;
  }
  return { dims, nq, nq4, codes, scales };
}

/**
 * Scores documents' ColBERT rows against one prepared query. Holds a small WebAssembly memory
 * (query, one document's rows, the dot products) that grows to the largest document seen.
 */
export class MaxSimScorer {
  private readonly kernel: DotsKernel | null;
  private readonly memory: WebAssembly.Memory | null;
  private q: PreparedColbertQuery | null = null;
  private codesOff = 0;
  private outOff = 0;
  private planesOff = 0;
  private capRows = 0;
  /** Bytes per vector reserved for planes (the most a block has asked for). */
  private capPlaneBytes = 0;
  private tables: PatternTables | null = null;

  constructor(useWasm = dotsKernelSupported()) {
    this.memory = useWasm ? new WebAssembly.Memory({ initial: 1 }) : null;
    this.kernel = this.memory ? instantiateDots(this.memory) : null;
  }

  /** Sets the query for the following score() calls. */
  setQuery(q: PreparedColbertQuery): void {
    this.q = q;
    this.tables = null;
    if (!this.memory) return;
    this.codesOff = align64(q.codes.byteLength);
    this.capRows = 0;
    this.reserve(64, 0);
    new Int16Array(this.memory.buffer, 0, q.codes.length).set(q.codes);
  }

  /** Room for `rows` int8 rows, their dots, and (bit-coded blocks) their planes of `planeBytes` each. */
  private reserve(rows: number, planeBytes: number): void {
    const q = this.q!;
    if (rows <= this.capRows && planeBytes <= this.capPlaneBytes) return;
    const cap = Math.max(rows, this.capRows * 2);
    this.capPlaneBytes = Math.max(planeBytes, this.capPlaneBytes);
    this.outOff = align64(this.codesOff + cap * q.dims);
    this.planesOff = align64(this.outOff + cap * q.nq4 * 4);
    const bytes = this.planesOff + cap * this.capPlaneBytes;
    const have = this.memory!.buffer.byteLength;
    if (bytes > have) this.memory!.grow(Math.ceil((bytes - have) / PAGE));
    this.capRows = cap;
  }

  /** MaxSim of the query against segment-local row `row` of `block`; 0 if it has no vectors. */
  score(block: ColbertBlock, row: number): number {
    const q = this.q;
    if (!q) throw new Error('MaxSimScorer: setQuery first');
    if (block.dims !== q.dims) throw new Error(`ColBERT: query prepared for ${q.dims} dims, block has ${block.dims}`);
    const from = block.rowOffsets[row];
    const to = block.rowOffsets[row + 1];
    const m = to - from;
    if (q.nq === 0 || m === 0) return 0;
    if (block.codec === 'bits') return this.scoreBits(block, from, m);
    const { dims, nq, nq4, scales: qs } = q;
    const ds = block.scales;
    let total = 0;
    if (this.kernel && dims % 8 === 0) {
      this.reserve(m, 0);
      const buf = this.memory!.buffer;
      new Int8Array(buf, this.codesOff, m * dims).set(block.codes.subarray(from * dims, to * dims));
      this.kernel.dots(0, nq4, dims, this.codesOff, m, this.outOff);
      const dots = new Int32Array(buf, this.outOff, m * nq4);
      for (let i = 0; i < nq; i++) {
        let best = -Infinity;
        for (let j = 0; j < m; j++) {
          const v = dots[j * nq4 + i] * ds[from + j] * qs[i];
          if (v > best) best = v;
        }
        total += best;
      }
      return total / nq;
    }
    // Plain JS: the same integer dots, the same float operations.
    const codes = block.codes;
    const qc = q.codes;
    for (let i = 0; i < nq; i++) {
      const qo = i * dims;
      let best = -Infinity;
      for (let j = from; j < to; j++) {
        const d = j * dims;
        let dot = 0;
        for (let x = 0; x < dims; x++) dot += qc[qo + x] * codes[d + x];
        const v = dot * ds[j] * qs[i];
        if (v > best) best = v;
      }
      total += best;
    }
    return total / nq;
  }

  private scoreBits(block: ColbertBitsBlock, from: number, m: number): number {
    const q = this.q!;
    const { dims, nq, nq4, scales: qs } = q;
    let total = 0;
    if (this.kernel && dims % 16 === 0) {
      const stride = (block.bits * dims) / 8;
      this.reserve(m, stride);
      const buf = this.memory!.buffer;
      new Uint8Array(buf, this.planesOff, m * stride).set(block.planes.subarray(from * stride, (from + m) * stride));
      this.kernel.unpack(this.planesOff, m, dims, block.bits, this.codesOff);
      this.kernel.dots(0, nq4, dims, this.codesOff, m, this.outOff);
      const dots = new Int32Array(buf, this.outOff, m * nq4);
      for (let i = 0; i < nq; i++) {
        let best = -Infinity;
        for (let j = 0; j < m; j++) {
          const v = dots[j * nq4 + i] * (bitsStep(block, from + j) / 2) * qs[i];
          if (v > best) best = v;
        }
        total += best;
      }
      return total / nq;
    }
    // Plain JS: the same integer dots from per-query tables, the same float operations.
    this.tables ??= patternTables(q.codes, nq, dims);
    for (let i = 0; i < nq; i++) {
      let best = -Infinity;
      for (let j = from; j < from + m; j++) {
        const v = bitsDot(this.tables, i, block, j) * (bitsStep(block, j) / 2) * qs[i];
        if (v > best) best = v;
      }
      total += best;
    }
    return total / nq;
  }
}

function align64(n: number): number {
  return Math.ceil(n / 64) * 64;
}

let shared: MaxSimScorer | null = null;
const lastQuery = new WeakMap<Float32Array, PreparedColbertQuery>();

/**
 * MaxSim of a query matrix [nq × dims] against segment-local row `row`'s vectors; 0 if it has none.
 * One-off convenience form (the query's quantisation is cached per query array); the ranker keeps
 * its own MaxSimScorer.
 */
export function maxSim(query: Float32Array, dims: number, block: ColbertBlock, row: number): number {
  let q = lastQuery.get(query);
  if (!q || q.dims !== dims) {
    q = prepareColbertQuery(query, dims);
    lastQuery.set(query, q);
  }
  shared ??= new MaxSimScorer();
  shared.setQuery(q);
  return shared.score(block, row);
}
