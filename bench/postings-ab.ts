/**
 * npx tsx bench/postings-ab.ts <old-checkout> [--n 10000]
 *
 * Compact postings (schema 4) against the schema 3 layout of another checkout, in one process under the
 * same load: both build the workload index (m3-bench-v1, vectors given, MemoryStore), then answer the same
 * 200 queries in sparse and bm25 mode, interleaved query by query. Checks the answers are identical
 * (ids and scores) and prints p50/mean per mode and postings bytes per document for each.
 */
import { resolve } from 'node:path';
import { Workload, QUERIES } from './workload.ts';

const oldRoot = resolve(process.argv[2] ?? '');
const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 10_000) || 10_000;
type Mod = typeof import('../src/search/m3-index.ts');
type MemMod = typeof import('../src/store/memory-store.ts');
type CheckMod = typeof import('../src/store/segment-check.ts');
const load = async (root: string) => ({
  M3Index: ((await import(`${root}/src/search/m3-index.ts`)) as Mod).M3Index,
  MemoryStore: ((await import(`${root}/src/store/memory-store.ts`)) as MemMod).MemoryStore,
  check: (await import(`${root}/src/store/segment-check.ts`)) as CheckMod,
});
const impls = { old: await load(oldRoot), new: await load(resolve('.')) };
const w = new Workload(n);
const model = { modelId: 'precomputed', dims: 1024, headHash: 'h' };
const docs = Array.from({ length: n }, (_, i) => ({
  id: w.docId(i),
  text: w.docText(i),
  embedding: { dense: w.docDense(i), sparse: w.docSparse(i), tokens: 0, truncated: false },
}));
const queries = w.queries(QUERIES);

const indexes: Record<string, Awaited<ReturnType<Mod['M3Index']['open']>>> = {};
for (const [name, m] of Object.entries(impls)) {
  const store = new m.MemoryStore();
  const idx = await m.M3Index.open('ab', { store, model });
  await idx.add(docs);
  indexes[name] = idx;
  let sparse = 0;
  let bm25 = 0;
  const segs = await store.readSegments();
  // What an IdbStore open checks per segment record: structure, then the checksum.
  let t = performance.now();
  for (let rep = 0; rep < 3; rep++) for (const s of segs) if (m.check.segmentProblem(s as never, 1024)) throw new Error('segment problem');
  const checkMs = (performance.now() - t) / 3;
  t = performance.now();
  for (let rep = 0; rep < 3; rep++) for (const s of segs) m.check.segmentChecksum(s as never);
  console.log(`${name}: structure check ${checkMs.toFixed(1)} ms, checksum ${((performance.now() - t) / 3).toFixed(1)} ms per open (${segs.length} segments)`);
  for (const s of segs) {
    const sp = s.sparse as unknown as Record<string, ArrayBufferView>;
    const bm = s.bm25 as unknown as Record<string, ArrayBufferView | string[]>;
    for (const k of ['tokens', 'offsets', 'rows', 'weights', 'postings']) sparse += sp[k]?.byteLength ?? 0;
    for (const k of ['offsets', 'docs', 'tfs', 'postings', 'lengths', 'dict', 'dictIndex']) bm25 += (bm[k] as ArrayBufferView | undefined)?.byteLength ?? 0;
    for (const t of (bm.terms as string[] | undefined) ?? []) bm25 += t.length * 2; // schema 6: in `dict`
  }
  console.log(`${name}: sparse ${(sparse / n).toFixed(1)} B/doc, bm25 ${(bm25 / n).toFixed(1)} B/doc (terms as UTF-16, as the bench counts them)`);
}

for (const mode of ['sparse', 'bm25'] as const) {
  const times: Record<string, number[]> = { old: [], new: [] };
  let same = 0;
  for (let rep = 0; rep < 2; rep++) {
    for (const q of queries) {
      const query = { text: q.text, embedding: { dense: q.dense, sparse: q.sparse, tokens: 0, truncated: false } };
      const got: Record<string, string> = {};
      for (const name of rep % 2 ? ['new', 'old'] : ['old', 'new']) {
        const t = performance.now();
        const hits = await indexes[name].search(query, { mode, k: 10, includeText: false });
        times[name].push(performance.now() - t);
        got[name] = JSON.stringify(hits.map((h: { id: string; score: number }) => [h.id, h.score]));
      }
      if (got.old === got.new) same++;
    }
  }
  const stat = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return `p50 ${s[s.length >> 1].toFixed(3)} ms, mean ${(a.reduce((x, y) => x + y, 0) / a.length).toFixed(3)} ms`;
  };
  console.log(`${mode}: old ${stat(times.old)} | new ${stat(times.new)} | identical answers ${same}/${times.old.length}`);
}
