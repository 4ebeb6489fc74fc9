/**
 * npx tsx bench/phrase-ab.ts <old-checkout> [--n 100000]
 *
 * Term positions (schema 5) against another checkout (schema 4: phrases checked on the texts), in one process
 * under the same load: both index the workload's texts (BM25 only, tiny dense vectors, MemoryStore), then
 * answer the same phrase queries (`npm run bench`'s phrase kind) in bm25 mode, interleaved query by query,
 * k 10 and k past the matches. Checks the answers are identical (ids and scores) and prints phrase p50/p95 per
 * side and the BM25 block's bytes per document, split into term strings, postings, positions and arrays.
 * A MemoryStore hands texts over without IndexedDB reads or inflating, so the old side's phrase times here
 * are a floor: the browser bench measures the real cost of its text reads.
 */
import { resolve } from 'node:path';
import { bm25PositionBytes, forEachBm25Term } from '../src/store/bm25-postings.ts';
import type { SegmentRecord } from '../src/store/types.ts';
import { kindQuery, QUERIES, Workload } from './workload.ts';

const oldRoot = resolve(process.argv[2] ?? '');
const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 100_000) || 100_000;
type Mod = typeof import('../src/search/m3-index.ts');
type MemMod = typeof import('../src/store/memory-store.ts');
const load = async (root: string) => ({
  M3Index: ((await import(`${root}/src/search/m3-index.ts`)) as Mod).M3Index,
  MemoryStore: ((await import(`${root}/src/store/memory-store.ts`)) as MemMod).MemoryStore,
});
const impls = { old: await load(oldRoot), new: await load(resolve('.')) };
const w = new Workload(n);
const docs = Array.from({ length: n }, (_, i) => ({
  id: w.docId(i),
  text: w.docText(i),
  embedding: { dense: Float32Array.of(1, 0, 0, 0), tokens: 0, truncated: false },
}));
const queries = w.queries(QUERIES).map((q) => kindQuery(w, q, 'phrase').m3);

const utf8 = new TextEncoder();
const indexes: Record<string, Awaited<ReturnType<Mod['M3Index']['open']>>> = {};
for (const [name, m] of Object.entries(impls)) {
  const store = new m.MemoryStore();
  const idx = await m.M3Index.open('ab', { store, model: { modelId: 'phrase-ab', dims: 4 } });
  const t = performance.now();
  await idx.add(docs);
  const addMs = performance.now() - t;
  indexes[name] = idx;
  const part = { termsUtf16: 0, termsUtf8: 0, dict: 0, postings: 0, positions: 0, offsetsAndLengths: 0 };
  for (const s of (await store.readSegments()) as SegmentRecord[]) {
    const b = s.bm25!;
    forEachBm25Term(b, (term) => ((part.termsUtf16 += term.length * 2), (part.termsUtf8 += utf8.encode(term).length)));
    if (b.dict) part.dict += b.dict.byteLength + b.dictIndex.byteLength;
    const positions = b.positions ? bm25PositionBytes(b) : 0;
    part.positions += positions;
    part.postings += b.postings.byteLength - positions;
    part.offsetsAndLengths += (b.offsets?.byteLength ?? 0) + b.lengths.byteLength;
  }
  const per = Object.entries(part).map(([k, v]) => `${k} ${(v / n).toFixed(1)}`);
  console.log(`${name}: add ${(addMs / 1000).toFixed(1)} s; BM25 B/doc: ${per.join(', ')}`);
}

for (const k of [10, n]) {
  const times: Record<string, number[]> = { old: [], new: [] };
  let same = 0;
  let matches = 0;
  for (const [i, q] of queries.entries()) {
    const got: Record<string, string> = {};
    for (const name of i % 2 ? ['new', 'old'] : ['old', 'new']) {
      const t = performance.now();
      const hits = await indexes[name].search(q, { mode: 'bm25', k, includeText: false });
      times[name].push(performance.now() - t);
      got[name] = JSON.stringify(hits.map((h: { id: string; score: number }) => [h.id, h.score]));
      if (name === 'new') matches += hits.length;
    }
    if (got.old === got.new) same++;
  }
  const stat = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return `p50 ${s[s.length >> 1].toFixed(2)} ms, p95 ${s[Math.floor(s.length * 0.95)].toFixed(2)} ms`;
  };
  console.log(
    `phrase k=${k === n ? 'all' : k}: old ${stat(times.old)} | new ${stat(times.new)} | identical answers ${same}/${queries.length} (mean ${(matches / queries.length).toFixed(1)} hits)`,
  );
}
