/**
 * Segment merging A/B in one Node process (issue 14): workload m3-bench-v1 (bench/workload.ts) added as the
 * browser bench does (add() calls of 10,000 documents, default batches of 1,000) into MemoryStore indexes
 * opened with different OpenOptions.merge policies. Per policy: ingest CPU (process.cpuUsage) with the merges
 * it ran and their share, segments left, stored bytes per document (segmentBytes: the segments' typed arrays
 * and strings, texts excluded since MemoryStore keeps them as plain records; BM25 terms = the front-coded
 * dictionary), query CPU p50 per mode, and whether each answer (ids and scores) equals the unmerged index's,
 * before and after a reopen (the in-memory segment swap against segments read back).
 *
 *   npx tsx bench/merge-ab.ts [--n 100000] [--queries 100] [--policies off,10:16384,10:131072]
 *
 * A policy is `off` or `fanIn:maxDocs`.
 */
import { M3Index } from '../src/search/m3-index.ts';
import type { SearchMode } from '../src/search/types.ts';
import type { MergePolicy } from '../src/search/merge-policy.ts';
import { segmentBytes } from '../src/store/segment-builder.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { DIMS, Workload, WORKLOAD } from './workload.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const n = Number(arg('n', '100000'));
const count = Number(arg('queries', '100'));
const policies = arg('policies', 'off,10:16384,10:131072').split(',');
const MODES: SearchMode[] = ['dense', 'sparse', 'bm25', 'hybrid'];
const ADD = 10_000;
const WARM = 5;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const w = new Workload(n);
const qs = w.queries(count);
const model = { modelId: `${WORKLOAD}/synthetic`, dims: DIMS };
type Answers = Record<string, string[][]>;
let baseline: Answers | null = null;

async function answers(index: M3Index): Promise<{ answers: Answers; cpu: Record<string, number> }> {
  const out: Answers = {};
  const cpu: Record<string, number> = {};
  for (const mode of MODES) {
    const times: number[] = [];
    out[mode] = [];
    for (let i = 0; i < count + WARM; i++) {
      const q = qs[i % count];
      const query = { text: q.text, embedding: { dense: q.dense, sparse: q.sparse, tokens: 0, truncated: false } };
      const c = cpuMs();
      const hits = await index.search(query, { k: 10, mode, includeText: false });
      if (i >= WARM) times.push(cpuMs() - c);
      if (i < count) out[mode].push(hits.map((h) => `${h.id}:${h.score}`));
    }
    cpu[mode] = r2(p50(times));
  }
  return { answers: out, cpu };
}

/** Queries whose ids (in order) / ids and scores equal the baseline's, per mode. */
function compare(a: Answers): string {
  if (!baseline) return 'baseline';
  return MODES.map((m) => {
    let ids = 0;
    let exact = 0;
    a[m].forEach((hits, i) => {
      const b = baseline![m][i];
      if (hits.map((h) => h.split(':')[0]).join() === b.map((h) => h.split(':')[0]).join()) ids++;
      if (hits.join() === b.join()) exact++;
    });
    return `${m} ${ids}/${exact}`;
  }).join(', ');
}

for (const p of policies) {
  const merge: MergePolicy | false = p === 'off' ? false : { fanIn: Number(p.split(':')[0]), maxDocs: Number(p.split(':')[1]) };
  const store = new MemoryStore();
  const index = await M3Index.open('merge-ab', { store, model, merge });
  // The merges' own CPU: the writer's merge() wrapped (internal).
  const writer = await (index as unknown as { writer: () => Promise<{ merge: () => Promise<number> }> }).writer();
  const merge0 = writer.merge.bind(writer);
  let mergeCpu = 0;
  let merges = 0;
  writer.merge = async () => {
    const c = cpuMs();
    const made = await merge0();
    mergeCpu += cpuMs() - c;
    merges += made;
    return made;
  };
  let addCpu = 0;
  for (let b = 0; b < n; b += ADD) {
    const m = Math.min(ADD, n - b);
    const docs = Array.from({ length: m }, (_, k) => {
      const i = b + k;
      return { id: w.docId(i), text: w.docText(i), embedding: { dense: w.docDense(i), sparse: w.docSparse(i), tokens: 0, truncated: false } };
    });
    const c = cpuMs();
    await index.add(docs);
    addCpu += cpuMs() - c;
  }
  const segs = await store.readSegments();
  const bytes = segs.reduce((a, s) => a + segmentBytes(s), 0);
  const terms = segs.reduce((a, s) => a + (s.bm25?.dict ? s.bm25.dict.byteLength + s.bm25.dictIndex.byteLength : 0), 0);
  const sparse = segs.reduce(
    (a, s) => a + (s.sparse ? s.sparse.groupTokens.byteLength + s.sparse.groupOffsets.byteLength + s.sparse.postings.byteLength : 0),
    0,
  );
  const live = await answers(index);
  index.close();
  const reopened = await M3Index.open('merge-ab', { store, model, merge });
  const again = await answers(reopened);
  reopened.close();
  console.log(
    `${p}: ${segs.length} segments; ingest ${Math.round((n / addCpu) * 1000).toLocaleString('en')} docs/s of CPU ` +
      `(${r1(addCpu / 1000)} s, of which ${merges} merges ${r1(mergeCpu / 1000)} s); ${r1(bytes / n)} B/doc ` +
      `(BM25 terms ${r1(terms / n)}, sparse ${r1(sparse / n)}); query CPU p50 ms ${MODES.map((m) => `${m} ${live.cpu[m]}`).join(', ')}`,
  );
  console.log(`  same ids / same ids and scores as off (of ${count}): ${compare(live.answers)}; after reopen: ${compare(again.answers)}`);
  console.log(`  reopened vs in memory: ${JSON.stringify(live.answers) === JSON.stringify(again.answers) ? 'identical' : 'DIFFERENT'}`);
  baseline ??= live.answers;
}
