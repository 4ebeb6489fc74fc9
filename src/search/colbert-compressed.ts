/**
 * MaxSim on bit-plane coded ColBERT vectors (src/store/colbert-bits.ts) without WebAssembly: the integer
 * dot Σ_x q_x · (2c_x − L) of the int16 query codes (colbert.ts prepareColbertQuery) with a vector's codes c_x,
 * read from per-query tables instead of decoding the vector:
 *
 *   Σ_x q_x (2c_x − L) = 2 Σ_p 2^p Σ_{x: bit p of c_x set} q_x  −  L · Σ_x q_x
 *
 * where each inner sum is, byte position by byte position, a table lookup of that plane byte's bit pattern
 * (dims/8 · 256 sums per query row, built once per query). A vector then costs bits · dims/8 reads per
 * query row instead of dims multiplications, and the integers are the ones the WASM kernel computes
 * (unpack + dots), so both paths give identical scores.
 */
import type { ColbertBitsBlock } from '../store/types.ts';

/** Per query row: the sums of its int16 codes over the 256 bit patterns of each plane byte, and their total. */
export interface PatternTables {
  dims: number;
  nq: number;
  /** [nq × dims/8 × 256] */
  tables: Int32Array;
  sums: Int32Array;
}

export function patternTables(codes: Int16Array, nq: number, dims: number): PatternTables {
  const bytes = dims / 8;
  const tables = new Int32Array(nq * bytes * 256);
  const sums = new Int32Array(nq);
  for (let i = 0; i < nq; i++) {
    let s = 0;
    for (let k = 0; k < bytes; k++) {
      const t = (i * bytes + k) * 256;
      const o = i * dims + k * 8;
      // A pattern's sum is the pattern without its top bit plus that bit's value.
      for (let b = 0; b < 8; b++) {
        const qv = codes[o + b];
        s += qv;
        const bit = 1 << b;
        for (let m = 0; m < bit; m++) tables[t + bit + m] = tables[t + m] + qv;
      }
    }
    sums[i] = s;
  }
  return { dims, nq, tables, sums };
}

/** Σ_x q_ix · (2c_jx − L): query row i against vector j of the block. */
export function bitsDot(t: PatternTables, i: number, block: ColbertBitsBlock, j: number): number {
  const { dims, bits, planes } = block;
  const bytes = dims / 8;
  const tb = i * bytes * 256;
  const base = j * bits * bytes;
  let acc = 0;
  for (let p = 0; p < bits; p++) {
    const po = base + p * bytes;
    let s = 0;
    for (let k = 0; k < bytes; k++) s += t.tables[tb + (k << 8) + planes[po + k]];
    acc += s << p;
  }
  return 2 * acc - ((1 << bits) - 1) * t.sums[i];
}
