/**
 * Compressed ColBERT rows: each token vector kept as `bits` bit-planes (1 = its signs, 1,024 dims →
 * 128 B, 1/8 of int8) plus one float step, and MaxSim computed on that form without decoding it.
 *
 * Codes: bits = 1 stores sign(d) and the step 2·mean|d| (so d ≈ ±mean|d|, the least-squares scale for a
 * sign code); bits ≥ 2 store round((d + max)/step) with step = 2·max/(2^bits − 1). Either way
 * d_x ≈ (code_x − c)·step with c = (2^bits − 1)/2, so
 *
 *   q · d ≈ step · (Σ_p 2^p Σ_{x: bit p of code_x set} q_x  −  c · Σ_x q_x)
 *
 * and each inner sum is read from a per-query table: for every byte position of a plane, the sums of
 * q over the 256 bit patterns (dims/8 · 256 floats per query row, built once per query). A vector then
 * costs bits · dims/8 table reads per query row instead of dims multiplications.
 */
import type { ColbertBlock } from '../store/types.ts';

export interface CompressedColbertBlock {
  dims: number;
  bits: number;
  /** rowOffsets[r]..rowOffsets[r+1] are the vectors of row r (as in ColbertBlock). */
  rowOffsets: Uint32Array;
  /** Per vector: `bits` planes of dims/8 bytes (bit x%8 of byte x/8 is dim x's bit of that plane). */
  planes: Uint8Array;
  /** Per vector: the code step (0 for a zero vector). */
  steps: Float32Array;
}

/** Bytes per vector at `bits` bits per dim (what the dial trades against agreement). */
export const compressedVectorBytes = (dims: number, bits: number) => (bits * dims) / 8 + 4;

/** Compresses int8 ColBERT rows (dequantised with their scales first) to `bits` bits per dim. */
export function compressColbert(block: ColbertBlock, bits: number): CompressedColbertBlock {
  const { dims } = block;
  if (![1, 2, 4].includes(bits)) throw new RangeError(`ColBERT compression: bits must be 1, 2 or 4, got ${bits}`);
  if (dims % 8 !== 0) throw new RangeError(`ColBERT compression needs dims divisible by 8, got ${dims}`);
  const n = block.scales.length;
  const stride = (bits * dims) / 8;
  const planes = new Uint8Array(n * stride);
  const steps = new Float32Array(n);
  const v = new Float64Array(dims);
  const levels = (1 << bits) - 1;
  for (let j = 0; j < n; j++) {
    let max = 0;
    let sumAbs = 0;
    for (let x = 0; x < dims; x++) {
      v[x] = block.codes[j * dims + x] * block.scales[j];
      const a = Math.abs(v[x]);
      sumAbs += a;
      if (a > max) max = a;
    }
    if (!(max > 0)) continue;
    const step = bits === 1 ? (2 * sumAbs) / dims : (2 * max) / levels;
    steps[j] = step;
    const base = j * stride;
    for (let x = 0; x < dims; x++) {
      const code = bits === 1 ? (v[x] > 0 ? 1 : 0) : Math.min(levels, Math.max(0, Math.round((v[x] + max) / step)));
      for (let p = 0; p < bits; p++) if (code & (1 << p)) planes[base + (p * dims) / 8 + (x >> 3)] |= 1 << (x & 7);
    }
  }
  return { dims, bits, rowOffsets: block.rowOffsets, planes, steps };
}

/** A query prepared for compressed MaxSim: per query row, the byte-pattern tables and Σ q. */
export interface CompressedColbertQuery {
  dims: number;
  nq: number;
  /** [nq × dims/8 × 256] */
  tables: Float32Array;
  sums: Float64Array;
}

export function prepareCompressedQuery(query: Float32Array, dims: number): CompressedColbertQuery {
  const nq = Math.floor(query.length / dims);
  const bytes = dims / 8;
  const tables = new Float32Array(nq * bytes * 256);
  const sums = new Float64Array(nq);
  for (let i = 0; i < nq; i++) {
    let s = 0;
    for (let k = 0; k < bytes; k++) {
      const t = (i * bytes + k) * 256;
      const o = i * dims + k * 8;
      // Table of a byte's patterns, built by adding one bit's value to the pattern without it.
      for (let b = 0; b < 8; b++) {
        const qv = query[o + b];
        s += qv;
        const bit = 1 << b;
        for (let m = 0; m < bit; m++) tables[t + bit + m] = tables[t + m] + qv;
      }
    }
    sums[i] = s;
  }
  return { dims, nq, tables, sums };
}

/** MaxSim (M3's: mean over query rows of the best dot) of the query against row `row` of the compressed block. */
export function compressedMaxSim(q: CompressedColbertQuery, block: CompressedColbertBlock, row: number): number {
  const { dims, bits, planes, steps } = block;
  if (q.dims !== dims) throw new Error(`ColBERT: query prepared for ${q.dims} dims, block has ${dims}`);
  const from = block.rowOffsets[row];
  const to = block.rowOffsets[row + 1];
  if (q.nq === 0 || to === from) return 0;
  const bytes = dims / 8;
  const stride = bits * bytes;
  const c = ((1 << bits) - 1) / 2;
  const { tables, sums } = q;
  let total = 0;
  for (let i = 0; i < q.nq; i++) {
    const tb = i * bytes * 256;
    let best = -Infinity;
    for (let j = from; j < to; j++) {
      const base = j * stride;
      let acc = 0;
      for (let p = 0; p < bits; p++) {
        const po = base + p * bytes;
        let s = 0;
        for (let k = 0; k < bytes; k++) s += tables[tb + k * 256 + planes[po + k]];
        acc += s * (1 << p);
      }
      const v = steps[j] * (acc - c * sums[i]);
      if (v > best) best = v;
    }
    total += best;
  }
  return total / q.nq;
}
