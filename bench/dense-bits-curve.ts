/**
 * npx tsx bench/dense-bits-curve.ts [--n 10000] [--queries 200]
 *
 * Bits per dimension against top-10 agreement with fp32, on the workload's dense vectors (m3-bench-v1):
 * each document vector quantised to b bits (symmetric, per-vector scale from its largest component, as the
 * stored int8 codes are at b = 8), every query scored exhaustively against the dequantised vectors, and the
 * top-10 set compared with the exact fp32 top-10. Prints bytes per document (b·1024/8 + a 4-byte scale)
 * beside the agreement, the curve README's storage decision rests on.
 */
import { DIMS, QUERIES, Workload } from './workload.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const n = opt('--n', 10_000);
const nq = opt('--queries', QUERIES);
const BITS = [4, 6, 8, 10, 12, 16];
const K = 10;

const w = new Workload(n);
const docs = new Float32Array(n * DIMS);
for (let i = 0; i < n; i++) w.docDense(i, docs, i * DIMS);
const queries = w.queries(nq);

function topK(scores: Float64Array): number[] {
  return [...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, K);
}

function scoreAll(m: Float32Array, q: Float32Array): Float64Array {
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    const o = i * DIMS;
    for (let x = 0; x < DIMS; x++) d += m[o + x] * q[x];
    s[i] = d;
  }
  return s;
}

const exact = queries.map((q) => topK(scoreAll(docs, q.dense)));
const rows: string[] = [];
for (const bits of BITS) {
  const qmax = 2 ** (bits - 1) - 1;
  const deq = new Float32Array(n * DIMS);
  for (let i = 0; i < n; i++) {
    const o = i * DIMS;
    let max = 0;
    for (let x = 0; x < DIMS; x++) max = Math.max(max, Math.abs(docs[o + x]));
    const step = max / qmax;
    for (let x = 0; x < DIMS; x++) deq[o + x] = Math.round(docs[o + x] / step) * step;
  }
  let agree = 0;
  let top1 = 0;
  queries.forEach((q, j) => {
    const got = topK(scoreAll(deq, q.dense));
    if (got.every((d) => exact[j].includes(d))) agree++;
    if (got[0] === exact[j][0]) top1++;
  });
  const line = `bits ${String(bits).padStart(2)}  bytes/doc ${String((bits * DIMS) / 8 + 4).padStart(5)}  top-10 = fp32 top-10 ${((100 * agree) / nq).toFixed(1)}%  top-1 ${((100 * top1) / nq).toFixed(1)}%`;
  rows.push(line);
  console.log(line);
}
console.log(`n = ${n}, ${nq} queries`);
