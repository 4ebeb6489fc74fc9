/**
 * nice npx tsx bench/bm25-format-ab.ts <old-checkout> [--n 100000]
 *
 * The BM25 block's layout against another checkout's, in one process under the same load: both index the
 * workload's texts and sparse vectors (tiny dense vectors, MemoryStore, 1,000-document batches as the bench),
 * then answer the same queries in bm25 mode — the workload's texts and prefix queries made from their words —
 * interleaved query by query. Checks the answers are identical (ids and scores) and prints each side's query
 * CPU time (process.cpuUsage, so other load on the machine counts less) and its bytes per document: BM25 split
 * into term strings (UTF-16 as the bench counts them, and UTF-8) or dictionary, run offsets, postings,
 * positions and lengths; sparse; ids, keys and metadata.
 */
import { resolve } from 'node:path';
import { QUERIES, Workload } from './workload.ts';

const oldRoot = resolve(process.argv[2] ?? '');
const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 100_000) || 100_000;
type Mod = typeof import('../src/search/m3-index.ts');
type MemMod = typeof import('../src/store/memory-store.ts');
type PostMod = typeof import('../src/store/bm25-postings.ts');
type BuildMod = typeof import('../src/store/segment-builder.ts');
const load = async (root: string) => ({
  M3Index: ((await import(`${root}/src/search/m3-index.ts`)) as Mod).M3Index,
  MemoryStore: ((await import(`${root}/src/store/memory-store.ts`)) as MemMod).MemoryStore,
  postings: (await import(`${root}/src/store/bm25-postings.ts`)) as PostMod,
  builder: (await import(`${root}/src/store/segment-builder.ts`)) as BuildMod,
});
const impls = { old: await load(oldRoot), new: await load(resolve('.')) };
const w = new Workload(n);
const docs = Array.from({ length: n }, (_, i) => ({
  id: w.docId(i),
  text: w.docText(i),
  embedding: { dense: Float32Array.of(1, 0, 0, 0), sparse: w.docSparse(i), tokens: 0, truncated: false },
}));
const texts = w.queries(QUERIES).map((q) => q.text);
const prefixes = texts.map((t, i) => {
  const words = t.split(/\s+/).filter((x) => x.length > 3);
  return `${(words[i % Math.max(1, words.length)] ?? 'wing').slice(0, 3 + (i % 2))}*`;
});

const utf8 = new TextEncoder();
type Index = Awaited<ReturnType<Mod['M3Index']['open']>>;
const indexes: Record<string, Index> = {};
for (const [name, m] of Object.entries(impls)) {
  const store = new m.MemoryStore();
  const idx = await m.M3Index.open('ab', { store, model: { modelId: 'bm25-format-ab', dims: 4 } });
  const t = performance.now();
  for (let i = 0; i < n; i += 1000) await idx.add(docs.slice(i, i + 1000));
  const addMs = performance.now() - t;
  indexes[name] = idx;
  const part: Record<string, number> = { termsUtf16: 0, termsUtf8: 0, dict: 0, offsets: 0, postings: 0, positions: 0, lengths: 0, sparse: 0, idsKeysMeta: 0 };
  for (const s of await store.readSegments()) {
    const b = s.bm25 as unknown as Record<string, unknown> & { postings: Uint8Array; lengths: Uint32Array };
    const terms: string[] = (b.terms as string[] | undefined) ?? [];
    if (b.dict) m.postings.forEachBm25Term(s.bm25 as never, (term: string) => terms.push(term));
    for (const term of terms) (part.termsUtf16 += term.length * 2), (part.termsUtf8 += utf8.encode(term).length);
    if (b.dict) part.dict += (b.dict as Uint8Array).byteLength + (b.dictIndex as Uint32Array).byteLength;
    part.offsets += (b.offsets as Uint32Array | undefined)?.byteLength ?? 0;
    const positions = m.postings.bm25PositionBytes(s.bm25 as never);
    part.positions += positions;
    part.postings += b.postings.byteLength - positions;
    part.lengths += b.lengths.byteLength;
    const sp = s.sparse!;
    part.sparse += sp.groupTokens.byteLength + sp.groupOffsets.byteLength + sp.postings.byteLength;
    const bm25 = b.dict ? part.dict : 0;
    void bm25;
    part.idsKeysMeta += s.keys.byteLength + s.rowDoc.byteLength + s.rowSpans.byteLength + s.ids.reduce((a, id) => a + id.length * 2, 0);
  }
  const bm25Counted = (b: Record<string, number>) => (b.dict ? b.dict : b.termsUtf16) + b.offsets + b.postings + b.positions + b.lengths;
  const per = Object.entries(part).map(([k, v]) => `${k} ${(v / n).toFixed(1)}`);
  console.log(`${name}: add ${(addMs / 1000).toFixed(1)} s; B/doc: bm25 as the bench counts it ${(bm25Counted(part) / n).toFixed(1)} (${per.join(', ')})`);
}

for (const [kind, qs] of [
  ['text', texts],
  ['prefix', prefixes],
] as const) {
  const cpu: Record<string, number> = { old: 0, new: 0 };
  let same = 0;
  for (let rep = 0; rep < 3; rep++)
    for (const [i, q] of qs.entries()) {
      const got: Record<string, string> = {};
      for (const name of (i + rep) % 2 ? ['new', 'old'] : ['old', 'new']) {
        const c = process.cpuUsage();
        const hits = await indexes[name].search(q, { mode: 'bm25', k: 10, includeText: false });
        const d = process.cpuUsage(c);
        if (rep > 0) cpu[name] += d.user + d.system; // the first pass fills the term caches
        got[name] = JSON.stringify(hits.map((h: { id: string; score: number }) => [h.id, h.score]));
      }
      if (got.old === got.new) same++;
    }
  const per = (name: string) => `${(cpu[name] / 1000 / (2 * qs.length)).toFixed(3)} ms CPU/query`;
  console.log(`bm25 ${kind} (cached terms after the first pass): old ${per('old')} | new ${per('new')} | identical answers ${same}/${3 * qs.length}`);
}

// Uncached: a fresh index per side would cost a rebuild; the caches are emptied by a remove of nothing-present instead.
for (const kind of ['text', 'prefix'] as const) {
  const qs = kind === 'text' ? texts : prefixes;
  const cpu: Record<string, number> = { old: 0, new: 0 };
  for (const [i, q] of qs.entries())
    for (const name of i % 2 ? ['new', 'old'] : ['old', 'new']) {
      const idx = indexes[name] as unknown as { state?: unknown };
      void idx;
      const c = process.cpuUsage();
      await indexes[name].search(`${q} zq${i}x${name}`, { mode: 'bm25', k: 10, includeText: false });
      const d = process.cpuUsage(c);
      cpu[name] += d.user + d.system;
    }
  console.log(
    `bm25 ${kind} with one uncached term each: old ${(cpu.old / 1000 / qs.length).toFixed(3)} | new ${(cpu.new / 1000 / qs.length).toFixed(3)} ms CPU/query`,
  );
}
