/**
 * `npx tsx bench/query-syntax-node.ts [n=10000] [kinds=and,andNot,prefix,fuzzy,phrase]`: the query-syntax kinds
 * of `npm run bench` in Node (M3Index over a MemoryStore, MiniSearch beside it, same process), for a quick look
 * without a browser. The browser run (`npm run bench`) is the reference: IndexedDB reads phrase texts there.
 */
import MiniSearch from 'minisearch';
import { M3Index } from '../src/search/m3-index.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { KINDS, kindQuery, QUERIES, Workload, type Kind } from './workload.ts';

const n = Number(process.argv[2] ?? 10_000);
const kinds = (process.argv[3]?.split(',') ?? KINDS) as Kind[];
const w = new Workload(n);
const qs = w.queries(QUERIES);
const docs = Array.from({ length: n }, (_, i) => ({ id: w.docId(i), text: w.docText(i) }));
const idx = await M3Index.open('q', { store: new MemoryStore(), model: { modelId: 'query-syntax', dims: 4 } });
let t = performance.now();
await idx.add(docs.map((d) => ({ ...d, embedding: { dense: Float32Array.of(1, 0, 0, 0), tokens: 1, truncated: false } })));
console.log(`m3 add ${(performance.now() - t).toFixed(0)} ms`);
const ms = new MiniSearch<{ id: string; text: string }>({ fields: ['text'] });
t = performance.now();
ms.addAll(docs);
console.log(`MiniSearch addAll ${(performance.now() - t).toFixed(0)} ms`);

const mini = (kind: Kind, a: string, b: string) => {
  if (kind === 'and') return ms.search(`${a} ${b}`, { combineWith: 'AND' });
  if (kind === 'andNot') return ms.search({ queries: [a, b], combineWith: 'AND_NOT' });
  if (kind === 'prefix') return ms.search(a, { prefix: true });
  if (kind === 'fuzzy') return ms.search(a, { fuzzy: 1 });
  return null;
};
const p50 = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
for (const kind of kinds) {
  const m3Ms: number[] = [];
  const miniMs: number[] = [];
  let hits = 0;
  for (const q of qs) {
    const { m3, a, b } = kindQuery(w, q, kind);
    let t0 = performance.now();
    hits += (await idx.search(m3, { mode: 'bm25', k: 10, includeText: false })).length;
    m3Ms.push(performance.now() - t0);
    t0 = performance.now();
    if (mini(kind, a, b)?.slice(0, 10)) miniMs.push(performance.now() - t0);
  }
  const ratio = miniMs.length ? ` MiniSearch p50 ${p50(miniMs).toFixed(3)} ms, ratio ${(p50(miniMs) / p50(m3Ms)).toFixed(1)}×` : '';
  console.log(`${kind}: m3 p50 ${p50(m3Ms).toFixed(3)} ms (${hits / qs.length} hits)${ratio}`);
}
