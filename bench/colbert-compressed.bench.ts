/**
 * npx tsx bench/colbert-compressed.bench.ts [--queries N] [--rows R,…]
 *
 * Compressed ColBERT (src/search/colbert-compressed.ts) against the stored int8 MaxSim on the workload
 * (m3-bench-v1, n = 10,000): per query, a rerank of 100 candidates (the query's target document and 99
 * others) by int8 MaxSim (the WASM kernel) and by compressed MaxSim at 1, 2 and 4 bits per dim. Reports
 * bytes per document, rerank time per query, and how often the compressed top-10 is the int8 top-10
 * (set agreement) and the top-1 the same. Rows per document: 16 (the workload's) and 128 (real-model-like).
 * Node only (no browser): the storage layout is the same bytes either way.
 */
import { quantizeInt8Batch } from '../src/rank/dense-scan.ts';
import { MaxSimScorer, prepareColbertQuery } from '../src/search/colbert.ts';
import { compressColbert, compressedMaxSim, compressedVectorBytes, prepareCompressedQuery } from '../src/search/colbert-compressed.ts';
import type { ColbertBlock } from '../src/store/types.ts';
import { DIMS, Workload } from './workload.ts';

const N = 10_000;
const CANDIDATES = 100;
const K = 10;
const BITS = [1, 2, 4];

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const queries = Number(opt('--queries', '40'));
const rowsList = opt('--rows', '16,128').split(',').map(Number);
const w = new Workload(N);

const top = (scores: Float64Array) => [...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, K);

const out: Record<string, unknown> = {};
for (const rows of rowsList) {
  const agree = new Map<number, { set: number; top1: number; ms: number }>(BITS.map((b) => [b, { set: 0, top1: 0, ms: 0 }]));
  let int8Ms = 0;
  for (let j = 0; j < queries; j++) {
    const q = w.query(j);
    const qc = w.queryColbert(q);
    const cands = [q.target, ...Array.from({ length: CANDIDATES - 1 }, (_, k) => (q.target + 1 + k * 97) % N)];
    const floats = new Float32Array(CANDIDATES * rows * DIMS);
    cands.forEach((d, c) => floats.set(w.docColbert(d, rows), c * rows * DIMS));
    const { codes, scales } = quantizeInt8Batch(floats, DIMS);
    const rowOffsets = Uint32Array.from({ length: CANDIDATES + 1 }, (_, c) => c * rows);
    const block: ColbertBlock = { dims: DIMS, rowOffsets, codes, scales };
    const scorer = new MaxSimScorer();
    let t = performance.now();
    scorer.setQuery(prepareColbertQuery(qc, DIMS));
    const exact = new Float64Array(CANDIDATES);
    for (let c = 0; c < CANDIDATES; c++) exact[c] = scorer.score(block, c);
    int8Ms += performance.now() - t;
    const ref = top(exact);
    for (const bits of BITS) {
      const cb = compressColbert(block, bits);
      t = performance.now();
      const pq = prepareCompressedQuery(qc, DIMS);
      const s = new Float64Array(CANDIDATES);
      for (let c = 0; c < CANDIDATES; c++) s[c] = compressedMaxSim(pq, cb, c);
      const a = agree.get(bits)!;
      a.ms += performance.now() - t;
      const got = top(s);
      a.set += got.filter((x) => ref.includes(x)).length / K;
      a.top1 += got[0] === ref[0] ? 1 : 0;
    }
  }
  const int8Bytes = rows * (DIMS + 4);
  const entry = {
    rowsPerDoc: rows,
    queries,
    candidates: CANDIDATES,
    int8: { bytesPerDoc: int8Bytes, rerankMsPerQuery: +(int8Ms / queries).toFixed(2) },
    compressed: BITS.map((bits) => {
      const a = agree.get(bits)!;
      const bytes = rows * compressedVectorBytes(DIMS, bits);
      return {
        bits,
        bytesPerDoc: bytes,
        vsInt8: +(bytes / int8Bytes).toFixed(3),
        rerankMsPerQuery: +(a.ms / queries).toFixed(2),
        top10SetAgreement: +(a.set / queries).toFixed(3),
        top1Agreement: +(a.top1 / queries).toFixed(3),
      };
    }),
  };
  out[`rows${rows}`] = entry;
  console.log(JSON.stringify(entry));
}
