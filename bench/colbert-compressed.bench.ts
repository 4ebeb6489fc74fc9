/**
 * npx tsx bench/colbert-compressed.bench.ts [--n 10000] [--rows 16,128] [--queries 100] [--bits 1,2,4]
 *
 * The ColBERT storage / agreement dial (OpenOptions.colbertBits) on the workload (m3-bench-v1): for each
 * width, one index (MemoryStore, the real write and search path) beside an int8 one, all fed the same
 * generated documents. Per query: hybrid + ColBERT rerank of the top 100 in each, and the top-10 sets
 * compared with the int8 index's ("rerank agreement", the measure); and, stricter, the order of
 * the candidates both hold by MaxSim alone ("MaxSim agreement": ranks 2–10 here are random documents whose
 * MaxSims differ by noise, so any coding reorders them). Bytes per document are the ColBERT block's.
 * Node only: the same segments and kernels as the browser, no IndexedDB. Rows per document: 16 (the
 * workload's) and 128 (real-model-like).
 */
import { M3Index } from '../src/search/m3-index.ts';
import type { Hit, SearchQuery } from '../src/search/types.ts';
import { colbertArrays } from '../src/store/colbert-bits.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import type { ColbertBits, SegmentRecord } from '../src/store/types.ts';
import { DIMS, Workload, WORKLOAD } from './workload.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const N = Number(opt('--n', '10000'));
const QUERIES = Number(opt('--queries', '100'));
const rowsList = opt('--rows', '16,128').split(',').map(Number);
const BITS = opt('--bits', '1,2,4').split(',').map(Number) as ColbertBits[];
const TOP_N = 100;
const K = 10;
const CHUNK = 1000;
const MODEL = { modelId: `${WORKLOAD}/synthetic`, dims: DIMS };

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const overlap = (a: string[], b: string[]) => a.filter((x) => b.includes(x)).length / K;

async function run(rows: number): Promise<Record<string, unknown>> {
  const w = new Workload(N);
  const widths: ColbertBits[] = [8, ...BITS];
  const indexes = new Map<ColbertBits, { index: M3Index; store: MemoryStore }>();
  for (const bits of widths) {
    const store = new MemoryStore();
    indexes.set(bits, { index: await M3Index.open(`colbert-${bits}`, { store, model: MODEL, colbert: true, colbertBits: bits }), store });
  }
  for (let b = 0; b < N; b += CHUNK) {
    const docs = Array.from({ length: Math.min(CHUNK, N - b) }, (_, k) => {
      const i = b + k;
      return {
        id: w.docId(i),
        text: w.docText(i),
        embedding: { dense: w.docDense(i), sparse: w.docSparse(i), colbert: w.docColbert(i, rows), tokens: 0, truncated: false },
      };
    });
    for (const { index } of indexes.values()) await index.add(docs);
  }
  const queries = w.queries(QUERIES);
  const query = (j: number): SearchQuery => {
    const q = queries[j];
    return { text: q.text, embedding: { dense: q.dense, sparse: q.sparse, colbert: w.queryColbert(q), tokens: 0, truncated: false } };
  };
  const search = (bits: ColbertBits, j: number) =>
    indexes.get(bits)!.index.search(query(j), { k: TOP_N, mode: 'hybrid', rerank: { colbert: true, topN: TOP_N }, includeText: false });

  // Per query: the int8 index's reranked list, and its 100 candidates by int8 MaxSim alone.
  const ref: Hit[][] = [];
  for (let j = 0; j < QUERIES; j++) ref.push(await search(8, j));
  const out: Record<string, unknown> = { rowsPerDoc: rows, n: N, queries: QUERIES, topN: TOP_N };
  for (const bits of widths) {
    const { index, store } = indexes.get(bits)!;
    const segs: SegmentRecord[] = await store.readSegments();
    const colbertBytes = segs.reduce((a, s) => a + (s.colbert ? colbertArrays(s.colbert).reduce((x, [, arr]) => x + arr.byteLength, 0) : 0), 0);
    let rerank = 0;
    let top1 = 0;
    let maxSimSet = 0;
    let target = 0;
    let ms = 0;
    for (let j = 0; j < QUERIES; j++) {
      const t = performance.now();
      const hits = await search(bits, j);
      ms += performance.now() - t;
      const r = ref[j];
      rerank += overlap(
        hits.slice(0, K).map((h) => h.id),
        r.slice(0, K).map((h) => h.id),
      );
      top1 += hits[0]?.id === r[0]?.id ? 1 : 0;
      target += hits.slice(0, K).some((h) => h.id === w.docId(queries[j].target)) ? 1 : 0;
      // MaxSim alone over the candidates both lists hold (hybrid fuses ColBERT before picking the 100, so the
      // pools differ by a few): this width's order against int8's.
      const byColbert = (hs: Hit[]) => [...hs].sort((a, b) => b.signals.colbert!.score - a.signals.colbert!.score || (a.id < b.id ? -1 : 1));
      const mine = new Map(hits.map((h) => [h.id, h]));
      const common = r.filter((h) => mine.has(h.id));
      maxSimSet += overlap(
        byColbert(common.map((h) => mine.get(h.id)!))
          .slice(0, K)
          .map((h) => h.id),
        byColbert(common)
          .slice(0, K)
          .map((h) => h.id),
      );
    }
    index.close();
    out[bits === 8 ? 'int8' : `bits${bits}`] = {
      bits,
      colbertBytesPerDoc: round(colbertBytes / N, 0),
      hybridRerankMsPerQuery: round(ms / QUERIES, 2),
      rerankTop10SetAgreement: round(rerank / QUERIES),
      rerankTop1Agreement: round(top1 / QUERIES),
      maxSimTop10SetAgreement: round(maxSimSet / QUERIES),
      targetInTop10: round(target / QUERIES),
    };
  }
  const int8 = out.int8 as { colbertBytesPerDoc: number };
  for (const bits of BITS) {
    const e = out[`bits${bits}`] as { colbertBytesPerDoc: number; vsInt8?: number };
    e.vsInt8 = round(e.colbertBytesPerDoc / int8.colbertBytesPerDoc, 4);
  }
  return out;
}

for (const rows of rowsList) {
  const t = Date.now();
  const r = await run(rows);
  console.log(JSON.stringify({ ...r, seconds: Math.round((Date.now() - t) / 1000) }));
}
