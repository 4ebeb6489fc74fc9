// Per-tensor weight quantisation as onnxruntime's quantize_dynamic does it: MatMul weights symmetric int8
// (zero point 0, scale = max|w| / 127), Gather tables (embeddings) asymmetric uint8.

/** numpy/ORT rounding: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantizedInt8 {
  data: Int8Array;
  scale: number; // float32-representable
  zeroPoint: 0;
}

export function quantizeSymmetricInt8(w: Float32Array): QuantizedInt8 {
  let absMax = 0;
  for (let i = 0; i < w.length; i++) absMax = Math.max(absMax, Math.abs(w[i]));
  const scale = Math.fround(absMax > 0 ? absMax / 127 : 1);
  const data = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) data[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i] / scale)));
  return { data, scale, zeroPoint: 0 };
}

export interface QuantizedUint8 {
  data: Uint8Array;
  scale: number;
  zeroPoint: number;
}

export function quantizeAsymmetricUint8(w: Float32Array): QuantizedUint8 {
  // Range always includes 0 so that exact zeros (the padding rows) stay exact.
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] < lo) lo = w[i];
    if (w[i] > hi) hi = w[i];
  }
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
  const zeroPoint = Math.max(0, Math.min(255, roundHalfEven(-lo / scale)));
  const data = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) data[i] = Math.max(0, Math.min(255, roundHalfEven(w[i] / scale) + zeroPoint));
  return { data, scale, zeroPoint };
}
