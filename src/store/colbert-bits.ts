/**
 * Bit-plane codes for ColBERT vectors (ColbertBitsBlock): `bits` bits per dimension, so a 1,024-d vector
 * takes 128 B at 1 bit (1/8 of int8's 1,024 codes + scale), 256 B at 2 and 512 B at 4.
 *
 * bits = 1 keeps sign(v) and the step 2·mean|v| (v ≈ ±mean|v|, the least-squares scale of a sign code);
 * bits ≥ 2 keep c = clamp(round(v/step + L/2), 0, L) with L = 2^bits − 1 and step = k·rms(v), k the optimal
 * uniform quantiser's step for a Gaussian (0.996 at 2 bits, 0.335 at 4: Max, 1960): a vector's components
 * are near-Gaussian, and spreading the levels over ±max instead wastes most of them on the rare extremes
 * (2 bits over ±max measured worse than 1 bit). Either way,
 *
 *   v ≈ (c − L/2) · step = (2c − L) · step/2
 *
 * and 2c − L is an odd integer in [−L, L]: MaxSim dots the int16 query with those small integers
 * (src/search/colbert.ts), exactly as it dots it with int8 codes.
 */
import type { ColbertBits, ColbertBitsBlock, ColbertBlock } from './types.ts';

export const COLBERT_BIT_WIDTHS: readonly ColbertBits[] = [1, 2, 4, 8];

/** Width of a new index's ColBERT vectors when OpenOptions.colbertBits is not given (README: the dial). */
export const DEFAULT_COLBERT_BITS: ColbertBits = 1;

/** Step of the optimal uniform quantiser of a unit Gaussian at 2 and 4 bits. */
const GAUSS_STEP: Record<2 | 4, number> = { 2: 0.996, 4: 0.335 };

/** Bytes of one coded vector (1 bit: no per-vector step, the block has one). */
export function colbertVectorBytes(dims: number, bits: ColbertBits): number {
  if (bits === 8) return dims + 4;
  return (bits * dims) / 8 + (bits === 1 ? 0 : 4);
}

/**
 * Codes v[off .. off+dims) into `planes` at `at` (bits planes of dims/8 bytes, which must be zero) and returns
 * its step (2·mean|v| at 1 bit; 0 for a zero vector).
 */
export function encodeBitsVector(v: ArrayLike<number>, off: number, dims: number, bits: 1 | 2 | 4, planes: Uint8Array, at: number): number {
  let sumAbs = 0;
  let sumSq = 0;
  for (let x = 0; x < dims; x++) {
    const a = v[off + x];
    sumAbs += Math.abs(a);
    sumSq += a * a;
  }
  if (!(sumSq > 0) || sumSq === Infinity) return 0;
  const pb = dims / 8;
  if (bits === 1) {
    for (let x = 0; x < dims; x++) if (v[off + x] > 0) planes[at + (x >> 3)] |= 1 << (x & 7);
    return (2 * sumAbs) / dims;
  }
  const levels = (1 << bits) - 1;
  const step = GAUSS_STEP[bits] * Math.sqrt(sumSq / dims);
  for (let x = 0; x < dims; x++) {
    const c = Math.min(levels, Math.max(0, Math.round(v[off + x] / step + levels / 2)));
    for (let p = 0; p < bits; p++) if (c & (1 << p)) planes[at + p * pb + (x >> 3)] |= 1 << (x & 7);
  }
  return step;
}

/** The odd integers 2c − L of vector j of a bits block, into out[at .. at+dims). */
export function unpackBitsVector(block: ColbertBitsBlock, j: number, out: Int8Array, at = 0): void {
  const { dims, bits, planes } = block;
  const pb = dims / 8;
  const base = j * bits * pb;
  const levels = (1 << bits) - 1;
  for (let x = 0; x < dims; x++) {
    let c = 0;
    for (let p = 0; p < bits; p++) c |= ((planes[base + p * pb + (x >> 3)] >> (x & 7)) & 1) << p;
    out[at + x] = 2 * c - levels;
  }
}

/** Step of vector j (the block's one step at 1 bit). */
export const bitsStep = (block: ColbertBitsBlock, j: number): number => (block.bits === 1 ? block.steps[0] : block.steps[j]);

/** Vector j of any ColBERT block as floats (exports, and re-coding when compaction changes the codec). */
export function decodeColbertVector(block: ColbertBlock, j: number, out = new Float32Array(block.dims), at = 0): Float32Array {
  const { dims } = block;
  if (block.codec === 'bits') {
    const ints = new Int8Array(dims);
    unpackBitsVector(block, j, ints);
    const half = bitsStep(block, j) / 2;
    for (let x = 0; x < dims; x++) out[at + x] = ints[x] * half;
    return out;
  }
  const s = block.scales[j];
  for (let x = 0; x < dims; x++) out[at + x] = block.codes[j * dims + x] * s;
  return out;
}

/** The typed arrays of a block, in checksum and file order. */
export function colbertArrays(block: ColbertBlock): [string, Uint32Array | Int8Array | Uint8Array | Float32Array][] {
  return block.codec === 'bits'
    ? [
        ['rowOffsets', block.rowOffsets],
        ['planes', block.planes],
        ['steps', block.steps],
      ]
    : [
        ['rowOffsets', block.rowOffsets],
        ['codes', block.codes],
        ['scales', block.scales],
      ];
}
