/**
 * ColBERT late interaction, M3's formula: score(q, d) = (1/|q|) Σ_i max_j q_i · d_j
 * over the query's vectors q_i and the document's stored (int8, per-vector scale) vectors d_j.
 *
 * The dot products are integers: each query vector is quantised once per search to int16 with its
 * own scale (as the dense scan does; the error is ≤ 1/32767 of the vector's largest component), and
 * q_i · d_j = dot(qint_i, dint_j) · s_q,i · s_d,j. A WebAssembly SIMD kernel (dense-scan-wasm.ts
 * `dots`) computes every dot of a document's rows against all query rows at once; the plain-JS
 * fallback computes the same integers, so both give identical scores.
 */
import { dotsKernelSupported, instantiateDots, type DotsKernel } from '../rank/colbert-wasm.ts';
import type { ColbertBlock } from '../store/types.ts';

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
  private capRows = 0;

  constructor(useWasm = dotsKernelSupported()) {
    this.memory = useWasm ? new WebAssembly.Memory({ initial: 1 }) : null;
    this.kernel = this.memory ? instantiateDots(this.memory) : null;
  }

  /** Sets the query for the following score() calls. */
  setQuery(q: PreparedColbertQuery): void {
    this.q = q;
    if (!this.memory) return;
    this.codesOff = align64(q.codes.byteLength);
    this.capRows = 0;
    this.reserve(64);
    new Int16Array(this.memory.buffer, 0, q.codes.length).set(q.codes);
  }

  private reserve(rows: number): void {
    const q = this.q!;
    if (rows <= this.capRows) return;
    const cap = Math.max(rows, this.capRows * 2);
    this.outOff = align64(this.codesOff + cap * q.dims);
    const bytes = this.outOff + cap * q.nq4 * 4;
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
    const { dims, nq, nq4, scales: qs } = q;
    const ds = block.scales;
    let total = 0;
    if (this.kernel && dims % 8 === 0) {
      this.reserve(m);
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
