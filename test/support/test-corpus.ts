/**
 * Test fixtures: a seeded random corpus with precomputed M3-shaped outputs, and float64 brute-force
 * reference scorers written independently of the index code (no shared helpers).
 */
import type { M3Embedding } from '../../src/encoder/types.ts';
import type { IndexDoc } from '../../src/search/types.ts';
import { mulberry32 as rng } from '../../src/util/random.ts';

export function gaussianUnit(r: () => number, dims: number): Float32Array {
  const v = new Float32Array(dims);
  let n = 0;
  for (let i = 0; i < dims; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    v[i] = g;
    n += g * g;
  }
  n = Math.sqrt(n);
  for (let i = 0; i < dims; i++) v[i] /= n;
  return v;
}

export function randomSparse(r: () => number, pairs: number, vocab = 2000, maxW = 0.4): { ids: Uint32Array; weights: Float32Array } {
  const m = new Map<number, number>();
  while (m.size < pairs) m.set(4 + Math.floor(vocab * r() ** 2), maxW * (1 - r()));
  const ids = Uint32Array.from([...m.keys()].sort((a, b) => a - b));
  return { ids, weights: Float32Array.from(ids, (i) => m.get(i)!) };
}

const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega'.split(' ');

export function randomText(r: () => number, n: number): string {
  return Array.from({ length: n }, () => WORDS[Math.floor(WORDS.length * r() ** 1.5)]).join(' ');
}

export function corpus(n: number, dims: number, seed = 1, opts: { colbert?: boolean; pairs?: number } = {}): IndexDoc[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const embedding: M3Embedding = { dense: gaussianUnit(r, dims), sparse: randomSparse(r, opts.pairs ?? 20), tokens: 10, truncated: false };
    if (opts.colbert) {
      const rows = 2 + Math.floor(r() * 5);
      const c = new Float32Array(rows * dims);
      for (let j = 0; j < rows; j++) c.set(gaussianUnit(r, dims), j * dims);
      embedding.colbert = c;
    }
    return { id: `d${i}`, text: randomText(r, 5 + Math.floor(r() * 10)), metadata: { i, group: i % 3 === 0 ? 'a' : 'b' }, embedding };
  });
}

export function refDense(q: Float32Array, d: Float32Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i] * d[i];
  return s;
}

export function refSparse(q: { ids: Uint32Array; weights: Float32Array }, d: { ids: Uint32Array; weights: Float32Array }): number {
  const m = new Map<number, number>();
  d.ids.forEach((id, i) => m.set(id, d.weights[i]));
  let s = 0;
  q.ids.forEach((id, i) => (s += q.weights[i] * (m.get(id) ?? 0)));
  return s;
}

export function refColbert(q: Float32Array, d: Float32Array, dims: number): number {
  const nq = q.length / dims;
  const nd = d.length / dims;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = 0; j < nd; j++) {
      let s = 0;
      for (let x = 0; x < dims; x++) s += q[i * dims + x] * d[j * dims + x];
      best = Math.max(best, s);
    }
    total += best;
  }
  return total / nq;
}

/**
 * Okapi BM25 of document `d` written out over plain word arrays (Lucene idf, k1, b; a repeated query word
 * counts once per occurrence): the reference for Bm25Index, SegmentBm25 and BM25 inside fusion.
 */
export function refBm25(query: readonly string[], docs: readonly (readonly string[])[], d: number, k1 = 1.2, b = 0.75): number {
  const N = docs.length;
  const avg = docs.reduce((s, x) => s + x.length, 0) / N;
  let s = 0;
  for (const q of query) {
    const df = docs.filter((x) => x.includes(q)).length;
    if (df === 0) continue;
    const tf = docs[d].filter((w) => w === q).length;
    const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
    s += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * docs[d].length) / avg));
  }
  return s;
}
