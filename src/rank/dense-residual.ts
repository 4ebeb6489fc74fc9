/**
 * Dense refinement (OpenOptions.denseRefine): beside each int8 row, a 4-bit residual per dimension, the
 * rounding error of the int8 code in units of scale/16, so a row reads back as scale · (code + r/16) with
 * ~12 bits of precision. Only the few rows the int8 ranking puts on top are refined, so a query reads 512
 * more bytes for each of ~32 rows, while every document stores 512 more bytes (dims / 2).
 *
 * Why: the int8 codes rank the workload's top 10 the same as fp32 for ~85% of queries (ranks 2–10 there
 * are near-ties within int8's rounding error); with the residual, ≥ 95% (bench/results.json
 * `recall.denseRefine`). Two nibbles per byte: even dimension low, odd dimension high; a nibble v holds
 * r = (v ^ 8) − 8 in −8..7 (the residual is within ±8 by construction, +8 clamps to 7).
 */

/** The residual's unit is the row's int8 scale divided by this. */
export const RESIDUAL_STEPS = 16;

export function residualBytes(dims: number): number {
  return (dims + 1) >> 1;
}

function nibble(x: number, code: number, scale: number, inv: number): number {
  let r = Math.round((x - code * scale) * inv);
  if (r > 7) r = 7;
  else if (r < -8) r = -8;
  return r & 15;
}

/**
 * Writes the residual of `vec[0 .. dims)` against its int8 codes `codes[codesOff ..]` and `scale`
 * (quantizeInt8Into's) into `out[outOff .. outOff + residualBytes(dims))`.
 */
export function encodeResidualInto(
  vec: ArrayLike<number>,
  codes: Int8Array,
  codesOff: number,
  scale: number,
  dims: number,
  out: Uint8Array,
  outOff: number,
): void {
  const inv = scale > 0 ? RESIDUAL_STEPS / scale : 0;
  for (let i = 0, o = outOff; i < dims; i += 2, o++) {
    const lo = nibble(vec[i], codes[codesOff + i], scale, inv);
    const hi = i + 1 < dims ? nibble(vec[i + 1], codes[codesOff + i + 1], scale, inv) : 0;
    out[o] = lo | (hi << 4);
  }
}

/** Σ query_i · r_i over one row's residual at `resid[off ..]`. */
export function residualDot(query: Float32Array, resid: Uint8Array, off: number, dims: number): number {
  let acc = 0;
  const pairs = dims >> 1;
  for (let p = 0, i = 0; p < pairs; p++, i += 2) {
    const b = resid[off + p];
    acc += query[i] * (((b & 15) ^ 8) - 8) + query[i + 1] * (((b >> 4) ^ 8) - 8);
  }
  if (dims & 1) acc += query[dims - 1] * (((resid[off + pairs] & 15) ^ 8) - 8);
  return acc;
}
