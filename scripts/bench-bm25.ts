/**
 * BM25 search timing on a synthetic corpus: `npx tsx scripts/bench-bm25.ts [docs] [queries]`.
 * Zipf-distributed vocabulary (s ≈ 1, 50k words), documents of 40–120 words, queries of 3–8
 * words drawn from the same distribution (so they hit common terms, the costly case).
 */
import type { Bm25DocTerms } from '../src/rank/bm25.ts';
import { Bm25Index } from '../bench/bm25-index.ts';

const N = Number(process.argv[2] ?? 100_000);
const Q = Number(process.argv[3] ?? 500);
const V = 50_000;

let seed = 42;
const rand = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
// Zipf sampling by inverse CDF over a precomputed table.
const cdf = new Float64Array(V);
let acc = 0;
for (let r = 0; r < V; r++) cdf[r] = acc += 1 / (r + 1);
const word = (r: number): string => 'w' + r.toString(36);
const sample = (): number => {
  const x = rand() * acc;
  let lo = 0;
  let hi = V - 1;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (cdf[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
};

const idx = new Bm25Index();
let t0 = performance.now();
for (let key = 0; key < N; key++) {
  const len = 40 + Math.floor(rand() * 81);
  const terms = new Map<string, number>();
  for (let i = 0; i < len; i++) {
    const w = word(sample());
    terms.set(w, (terms.get(w) ?? 0) + 1);
  }
  const doc: Bm25DocTerms = { key, length: len, terms };
  idx.add(doc);
}
console.log(`indexed ${N} docs in ${(performance.now() - t0).toFixed(0)} ms, vocabulary ${idx.vocabularySize}, avg length ${idx.avgLength.toFixed(1)}`);

const queries: string[] = [];
for (let i = 0; i < Q; i++) {
  const n = 3 + Math.floor(rand() * 6);
  const ws: string[] = [];
  for (let j = 0; j < n; j++) ws.push(word(sample()));
  queries.push(ws.join(' '));
}
for (const q of queries.slice(0, 50)) idx.search(q, 10); // warm-up
const times: number[] = [];
for (let pass = 0; pass < 3; pass++) {
  for (const q of queries) {
    t0 = performance.now();
    idx.search(q, 10);
    times.push(performance.now() - t0);
  }
}
times.sort((a, b) => a - b);
const pct = (p: number): string => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(`search k=10 over ${Q} queries x3 of 3-8 words: mean ${mean.toFixed(2)} ms, p50 ${pct(0.5)}, p95 ${pct(0.95)}, max ${pct(1)}`);

t0 = performance.now();
const snap = idx.toSnapshot();
const t1 = performance.now();
const back = Bm25Index.fromSnapshot(snap);
const t2 = performance.now();
const bytes =
  snap.termBytes.byteLength +
  snap.termOffsets.byteLength +
  snap.postingOffsets.byteLength +
  snap.postingKeys.byteLength +
  snap.postingTfs.byteLength +
  snap.docKeys.byteLength +
  snap.docLengths.byteLength;
console.log(
  `snapshot ${(bytes / 1e6).toFixed(1)} MB (${snap.postingKeys.length} postings): toSnapshot ${(t1 - t0).toFixed(0)} ms, fromSnapshot ${(t2 - t1).toFixed(0)} ms, size ${back.size}`,
);
