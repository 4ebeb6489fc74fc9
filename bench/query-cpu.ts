/**
 * Query CPU time per mode in Node over a MemoryStore holding workload m3-bench-v1 (bench/workload.ts),
 * ingested with add()'s default batches (1,000 documents a segment, as the browser bench). CPU time of
 * this process (process.cpuUsage) per query, not wall time: the figure holds on a shared machine.
 *
 *   npx tsx bench/query-cpu.ts [--n 100000] [--queries 200] [--modes sparse,bm25,hybrid] [--dir /tmp/idx]
 *
 * --dir keeps the index in a FileStore folder and reuses it on the next run (same n), to skip the build.
 * Each query runs twice in a row, first with the ranker's exhaustive sparse scan, then with its pruned one
 * (Ranker.pruning): both answers must be the same hits with the same scores, and both CPU times print.
 */
import { existsSync } from 'node:fs';
import { M3Index } from '../src/search/m3-index.ts';
import type { SearchMode, SearchOptions } from '../src/search/types.ts';
import { FileStore } from '../src/store/file-store.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { DIMS, QUERIES, Workload, WORKLOAD } from './workload.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const n = Number(arg('n', '100000'));
const count = Number(arg('queries', String(QUERIES)));
const modes = arg('modes', 'dense,sparse,bm25,hybrid,hybrid-rrf').split(',');
const WARM = 10;

const w = new Workload(n);
const dir = arg('dir', '');
const built = dir !== '' && existsSync(dir);
const store = dir ? new FileStore(dir) : new MemoryStore();
const index = await M3Index.open('query-cpu', { store, model: { modelId: `${WORKLOAD}/synthetic`, dims: DIMS } });
if (built && index.count() !== n) throw new Error(`${dir} holds ${index.count()} documents, not ${n}`);
const t0 = performance.now();
for (let b = 0; b < (built ? 0 : n); b += 10_000) {
  const m = Math.min(10_000, n - b);
  const docs = Array.from({ length: m }, (_, k) => {
    const i = b + k;
    return { id: w.docId(i), text: w.docText(i), embedding: { dense: w.docDense(i), sparse: w.docSparse(i), tokens: 0, truncated: false } };
  });
  await index.add(docs);
}
console.log(`n=${n}: ${built ? 'opened' : 'built'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const qs = w.queries(count);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
/** The open index's ranker (internal: the bench flips its sparse and BM25 pruning). */
const ranker = () => (index as unknown as { state: { ranker: { pruning: boolean } } }).state.ranker;
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const label of modes) {
  const mode = (label === 'hybrid-rrf' ? 'hybrid' : label) as SearchMode;
  const opts: SearchOptions = { k: 10, mode, includeText: false, ...(label === 'hybrid-rrf' ? { fusion: 'rrf' as const } : {}) };
  const times: Record<'exhaustive' | 'pruned', number[]> = { exhaustive: [], pruned: [] };
  for (let i = 0; i < count + WARM; i++) {
    const q = qs[i % count];
    const query = { text: q.text, embedding: { dense: q.dense, sparse: q.sparse, tokens: 0, truncated: false } };
    const answers: string[] = [];
    for (const variant of ['exhaustive', 'pruned'] as const) {
      ranker().pruning = variant === 'pruned';
      const c = cpuMs();
      const hits = await index.search(query, opts);
      if (i >= WARM) times[variant].push(cpuMs() - c);
      answers.push(JSON.stringify(hits));
    }
    if (answers[0] !== answers[1]) throw new Error(`${label}, query ${i % count}: the pruned answer differs\n${answers[0]}\n${answers[1]}`);
  }
  const line = (v: 'exhaustive' | 'pruned') => `${v} p50 ${r2(p50(times[v]))} ms (mean ${r2(mean(times[v]))})`;
  console.log(`${label}: CPU ${line('exhaustive')}, ${line('pruned')}; same answers`);
}
index.close();
