/**
 * M3Index in Node on workload m3-bench-v1 (shared/BENCH.md): ingest with precomputed vectors,
 * bytes per document (FileStore on disk; IndexedDB estimated as V8-serialised record sizes, which is
 * what Chromium's IndexedDB stores), cold open to first answer, query latency per mode, dense recall.
 *
 *   npx tsx bench/node-index.bench.ts [--n 10000] [--n 100000] [--queries 200] [--json out.json]
 */
import { mkdtempSync, rmSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { M3Index } from '../src/search/m3-index.ts';
import type { IndexDoc, SearchMode } from '../src/search/types.ts';
import { FileStore } from '../src/store/file-store.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import type { CommitBatch } from '../src/store/types.ts';
import { mulberry32 } from '../src/util/random.ts';

const DIMS = 1024;
const VOCAB_WORDS = 30_000;
const SPARSE_VOCAB = 250_002;

/** Zipf(s) sampler over ranks 1..n by inverse CDF on a precomputed table. */
function zipf(n: number, s: number): (r: () => number) => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += 1 / Math.pow(i + 1, s);
  for (let i = 0; i < n; i++) cdf[i] /= acc;
  return (r) => {
    const u = r();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const SYL = ['ka', 'lo', 'mi', 'ten', 'ra', 'shu', 've', 'po', 'ni', 'dar', 'el', 'os', 'tri', 'ba', 'gu', 'fe', 'lin', 'mor', 'sa', 'qu'];
const vocab = Array.from({ length: VOCAB_WORDS }, (_, i) => {
  let w = '';
  let x = i;
  do {
    w += SYL[x % SYL.length];
    x = Math.floor(x / SYL.length);
  } while (x > 0);
  return w + SYL[(i * 7) % SYL.length];
});
const wordZipf = zipf(VOCAB_WORDS, 1.1);
const tokenZipf = zipf(SPARSE_VOCAB, 1.1);

function unit(r: () => number, out: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  for (let i = 0; i < out.length; i++) n += out[i] * out[i];
  n = Math.sqrt(n);
  for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}

function sparse(r: () => number, pairs: number) {
  const m = new Map<number, number>();
  while (m.size < pairs) m.set(tokenZipf(r), 0.4 * (1 - r()));
  const ids = Uint32Array.from([...m.keys()].sort((a, b) => a - b));
  return { ids, weights: Float32Array.from(ids, (i) => m.get(i)!) };
}

function words(r: () => number, min: number, max: number): string {
  const n = min + Math.floor(r() * (max - min + 1));
  return Array.from({ length: n }, () => vocab[wordZipf(r)]).join(' ');
}

function makeDocs(n: number): IndexDoc[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    text: words(mulberry32(i * 3 + 1), 40, 120),
    embedding: { dense: unit(mulberry32(i * 3 + 2), new Float32Array(DIMS)), sparse: sparse(mulberry32(i * 3 + 3), 60), tokens: 0, truncated: false },
  }));
}

function makeQueries(n: number, count: number, docs: IndexDoc[]) {
  return Array.from({ length: count }, (_, j) => {
    const r = mulberry32(1e9 + j);
    const target = Math.floor(r() * n);
    const u = unit(r, new Float32Array(DIMS));
    const d = docs[target].embedding!.dense!;
    const q = new Float32Array(DIMS);
    for (let i = 0; i < DIMS; i++) q[i] = 0.6 * d[i] + 0.4 * u[i];
    unit(() => 0, new Float32Array(0));
    let norm = 0;
    for (let i = 0; i < DIMS; i++) norm += q[i] * q[i];
    for (let i = 0; i < DIMS; i++) q[i] /= Math.sqrt(norm);
    return { target, text: words(r, 3, 8), embedding: { dense: q, sparse: sparse(r, 8), tokens: 0, truncated: false } };
  });
}

function exactTop(docs: IndexDoc[], q: Float32Array, k: number): string[] {
  const s = docs.map((d, i) => {
    const v = d.embedding!.dense!;
    let x = 0;
    for (let j = 0; j < DIMS; j++) x += v[j] * q[j];
    return [x, i] as const;
  });
  s.sort((a, b) => b[0] - a[0]);
  return s.slice(0, k).map(([, i]) => `d${i}`);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function run(n: number, queries: number) {
  const out: Record<string, unknown> = { n };
  let t = performance.now();
  const docs = makeDocs(n);
  console.log(`n=${n}: generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const model = { modelId: 'm3-bench-v1', dims: DIMS, headHash: 'synthetic' };

  // Ingest into a FileStore.
  const dir = mkdtempSync(join(tmpdir(), 'm3bench-'));
  let idx = await M3Index.open('bench', { store: new FileStore(dir), model });
  t = performance.now();
  await idx.add(docs, { batchSize: 2000 });
  const ingestMs = performance.now() - t;
  out.ingestDocsPerSec = Math.round(n / (ingestMs / 1000));
  const fileBytes = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
  out.fileBytesPerDoc = Math.round(fileBytes / n);
  const textBytes = docs.reduce((a, d) => a + Buffer.byteLength(d.text), 0);
  out.textBytesPerDoc = Math.round(textBytes / n); // raw UTF-8, before the FileStore's deflate
  idx.close();

  // Same ingest without BM25, to show what text analysis costs.
  {
    const d2 = mkdtempSync(join(tmpdir(), 'm3bench-'));
    const i2 = await M3Index.open('bench', { store: new FileStore(d2), model, bm25: false });
    t = performance.now();
    await i2.add(docs, { batchSize: 2000 });
    out.ingestNoBm25DocsPerSec = Math.round(n / ((performance.now() - t) / 1000));
    out.fileBytesPerDocNoBm25 = Math.round(readdirSync(d2).reduce((a, f) => a + statSync(join(d2, f)).size, 0) / n);
    i2.close();
    rmSync(d2, { recursive: true, force: true });
  }

  // IndexedDB terms: V8-serialised size of every record a commit writes (Chromium stores V8 serialisations).
  {
    const mem = new MemoryStore();
    let bytes = 0;
    const commit = mem.commit.bind(mem);
    mem.commit = async (b: CommitBatch) => {
      for (const s of b.segments ?? []) bytes += serialize(s).length;
      for (const d of b.putDocs ?? []) bytes += serialize(d).length;
      bytes += serialize(b.meta).length;
      return commit(b);
    };
    const i3 = await M3Index.open('bench', { store: mem, model });
    t = performance.now();
    await i3.add(docs, { batchSize: 2000 });
    out.memoryStoreIngestDocsPerSec = Math.round(n / ((performance.now() - t) / 1000));
    out.idbBytesPerDoc = Math.round(bytes / n);
    i3.close();
  }

  // Cold open (FileStore) to first answer.
  const qs = makeQueries(n, queries, docs);
  t = performance.now();
  idx = await M3Index.open('bench', { store: new FileStore(dir), model });
  await idx.search({ text: qs[0].text, embedding: qs[0].embedding }, { k: 10, includeText: false });
  out.coldOpenMs = Math.round(performance.now() - t);

  const modes: [string, SearchMode, object][] = [
    ['dense', 'dense', {}],
    ['sparse', 'sparse', {}],
    ['bm25', 'bm25', {}],
    ['hybrid', 'hybrid', {}],
    ['hybrid+text', 'hybrid', { includeText: true }],
    ['hybrid-rrf', 'hybrid', { fusion: 'rrf' }],
  ];
  const query: Record<string, { p50Ms: number; p95Ms: number }> = {};
  let recall = 0;
  let targetHit = 0;
  let sparseOverlap = 0;
  for (const [label, mode, extra] of modes) {
    const times: number[] = [];
    for (let i = 0; i < qs.length + 10; i++) {
      const q = qs[i % qs.length];
      const s = performance.now();
      const hits = await idx.search({ text: q.text, embedding: q.embedding }, { k: 10, mode, includeText: false, ...extra });
      const dt = performance.now() - s;
      if (i >= 10) times.push(dt);
      if (label === 'dense' && i >= 10 && i < 10 + Math.min(qs.length, 50)) {
        const exact = exactTop(docs, q.embedding.dense, 10);
        recall += hits.filter((h) => exact.includes(h.id)).length / 10;
        if (hits[0]?.id === `d${q.target}`) targetHit++;
      }
      if (label === 'sparse' && i >= 10 && i < 60) {
        // uint8-quantised postings vs float64 brute force on the original weights: top-10 overlap
        const qm = new Map<number, number>();
        q.embedding.sparse.ids.forEach((id, x) => qm.set(id, q.embedding.sparse.weights[x]));
        const exact = docs
          .map((d, x) => {
            let s = 0;
            const sp = d.embedding!.sparse!;
            for (let y = 0; y < sp.ids.length; y++) s += (qm.get(sp.ids[y]) ?? 0) * sp.weights[y];
            return [s, x] as const;
          })
          .filter(([s]) => s > 0)
          .sort((a, b) => b[0] - a[0])
          .slice(0, 10)
          .map(([, x]) => `d${x}`);
        sparseOverlap += exact.length ? hits.filter((h) => exact.includes(h.id)).length / exact.length : 1;
      }
    }
    query[label] = { p50Ms: +pct(times, 0.5).toFixed(2), p95Ms: +pct(times, 0.95).toFixed(2) };
  }
  out.query = query;
  out.denseRecallAt10 = +(recall / Math.min(qs.length, 50)).toFixed(4);
  out.denseTargetTop1 = +(targetHit / Math.min(qs.length, 50)).toFixed(4);
  out.sparseUint8Top10Overlap = +(sparseOverlap / Math.min(qs.length, 50)).toFixed(4);
  out.heapUsedMB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  out.externalMB = Math.round(process.memoryUsage().external / 2 ** 20);
  idx.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const args = process.argv.slice(2);
const sizes = args.flatMap((a, i) => (a === '--n' ? [Number(args[i + 1])] : []));
const queries = Number(args[args.indexOf('--queries') + 1]) || 200;
const jsonAt = args.indexOf('--json');
const results = [];
for (const n of sizes.length ? sizes : [10_000]) {
  const r = await run(n, queries);
  console.log(JSON.stringify(r, null, 1));
  results.push(r);
}
if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify(results, null, 2));
