// Deterministic PRNG streams: one independent stream per tensor name, so adding or reordering tensors never
// changes the values of the others, and the same name + seed always yields bit-identical weights.

import { mulberry32 } from '../../src/util/random.ts';

/** 32-bit FNV-1a of a string (UTF-16 code units); only used to derive stream seeds. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Uniform stream for `name` under a global `seed`. */
export function streamFor(seed: number, name: string): () => number {
  return mulberry32((fnv1a32(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
}

/**
 * Fill a Float32Array with N(mean, std) draws (Box–Muller, both outputs used). Math.log/sqrt/cos/sin are
 * correctly rounded enough in V8 that results are identical across runs on the same engine; the committed
 * SHA256SUMS test catches any engine drift.
 */
export function normalArray(seed: number, name: string, n: number, std: number, mean = 0): Float32Array {
  const rnd = streamFor(seed, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rnd(); // (0, 1]: log never sees 0
    const u2 = rnd();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    out[i] = mean + std * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(th);
  }
  return out;
}
