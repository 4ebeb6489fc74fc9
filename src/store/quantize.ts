/**
 * Sparse weight quantiser. Dense and ColBERT vectors use the dense kernel's int8 quantiser
 * (rank/dense-scan.ts), so stored codes are exactly what the scan expects.
 *
 * Sparse weights: uint8 with one scale per segment (max weight ↦ 255). M3 weights are ≥ 0 and
 * rarely above 0.5, so the absolute error ≤ scale/2 ≈ 0.001 per weight — measured on the ranking in
 * the tests (uint8 vs fp16: half the bytes, same top-10).
 */

/** uint8 scale for sparse weights: max weight maps to 255. */
export function uint8Scale(maxWeight: number): number {
  return maxWeight > 0 && Number.isFinite(maxWeight) ? maxWeight / 255 : 1;
}

/** Quantised weights never round to 0: a kept token must keep matching (it had weight > 0). */
export function quantizeUint8(w: number, scale: number): number {
  const q = Math.round(w / scale);
  return q < 1 ? 1 : q > 255 ? 255 : q;
}
