import MiniSearch from 'minisearch';
import { M3Index } from '../src/search/m3-index.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { Workload, QUERIES } from './workload.ts';

const n = Number(process.argv[2] ?? 10000);
const w = new Workload(n);
const qs = w.queries(QUERIES);
const docs = Array.from({ length: n }, (_, i) => ({ id: w.docId(i), text: w.docText(i) }));
const idx = await M3Index.open('s', { store: new MemoryStore(), model: { modelId: 'x', dims: 4 } });
let t = performance.now();
await idx.add(docs.map((d) => ({ ...d, embedding: { dense: new Float32Array([1, 0, 0, 0]), tokens: 1, truncated: false } })));
console.log('m3 add', (performance.now() - t).toFixed(0), 'ms');
const ms = new MiniSearch<{ id: string; text: string }>({ fields: ['text'] });
t = performance.now();
ms.addAll(docs);
console.log('minisearch add', (performance.now() - t).toFixed(0), 'ms');
function kq(q: (typeof qs)[number], kind: string) {
  const ws = q.text.split(' ');
  const a = ws[0];
  const b = ws.find((x) => x !== a) ?? ws[1];
  if (kind === 'and') return { m3: `+${a} +${b}`, mini: () => ms.search(`${a} ${b}`, { combineWith: 'AND' }) };
  if (kind === 'andNot') return { m3: `+${a} -${b}`, mini: () => ms.search({ queries: [a, b], combineWith: 'AND_NOT' }) };
  if (kind === 'prefix') return { m3: `${a.slice(0, 3)}*`, mini: () => ms.search(a.slice(0, 3), { prefix: true }) };
  if (kind === 'fuzzy') {
    const m = a.length >> 1;
    const typo = a.slice(0, m) + (a[m] === 'a' ? 'e' : 'a') + a.slice(m + 1);
    return { m3: `${typo}~1`, mini: () => ms.search(typo, { fuzzy: 1 }) };
  }
  const dw = w.docText(q.target).split(' ');
  const at = (q.index * 7) % (dw.length - 1);
  return { m3: `"${dw[at]} ${dw[at + 1]}"`, mini: null };
}
const p50 = (x: number[]) => x.sort((a, b) => a - b)[x.length >> 1];
for (const kind of (process.argv[3] ?? 'and,andNot,prefix,fuzzy,phrase').split(',')) {
  const a: number[] = [];
  const b: number[] = [];
  let hits = 0;
  let matches = 0;
  for (const q of qs) {
    const k = kq(q, kind);
    let t0 = performance.now();
    hits += (await idx.search(k.m3, { mode: 'bm25', k: 10, includeText: false })).length;
    a.push(performance.now() - t0);
    if (k.mini) {
      t0 = performance.now();
      matches += k.mini().slice(0, 10).length;
      b.push(performance.now() - t0);
    }
  }
  console.log(kind, 'm3 p50', p50(a).toFixed(3), 'mini p50', b.length ? p50(b).toFixed(3) : '-', 'ratio', b.length ? (p50(b) / p50(a)).toFixed(1) : '-', 'hits', hits / qs.length);
}
