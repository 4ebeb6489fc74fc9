/**
 * npx tsx bench/open-steps.ts DIR [rounds=3]
 *
 * Where a cold open's CPU goes before the first answer (issue 14), in Node over a saved FileStore index (build one
 * with `npx tsx bench/query-cpu.ts --n 100000 --dir DIR`): the checks IdbStore runs on each segment record it
 * reads (structure: the cheap part, the sparse and BM25 posting walks; the CRC), LiveIndex.build, and the first
 * hybrid query over the built index, each as process CPU time (process.cpuUsage: this process only, so the figure
 * holds on a shared machine), summed over the segments, per round.
 */
import os from 'node:os';
import { M3Index } from '../src/search/m3-index.ts';
import { LiveIndex } from '../src/search/live-index.ts';
import { bm25PostingsProblem } from '../src/store/bm25-postings.ts';
import { FileStore } from '../src/store/file-store.ts';
import { segmentChecksum, segmentProblem } from '../src/store/segment-check.ts';
import { sparsePostingsProblem } from '../src/store/sparse-postings.ts';
import type { SegmentRecord } from '../src/store/types.ts';
import { DIMS, Workload, WORKLOAD } from './workload.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/open-steps.ts DIR [rounds]');
const rounds = Number(process.argv[3] ?? 3);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const times: Record<string, number[]> = {};
function time<T>(label: string, round: number, f: () => T): T {
  const t = cpuMs();
  const r = f();
  (times[label] ??= [])[round] = (times[label]?.[round] ?? 0) + cpuMs() - t;
  return r;
}

const index = await M3Index.open('open-steps', { store: new FileStore(dir), model: { modelId: `${WORKLOAD}/synthetic`, dims: DIMS } });
const n = index.count();
index.close();
const reader = new FileStore(dir, { readOnly: true });
await reader.open();
const segs: SegmentRecord[] = await reader.readSegments();
reader.close();
const w = new Workload(n);
const q = w.queries(1)[0];
for (let r = 0; r < rounds; r++) {
  for (const s of segs) {
    time('segmentProblem (all of it)', r, () => segmentProblem(s, DIMS));
    if (s.sparse) time('  of it: sparse posting walk', r, () => sparsePostingsProblem(s.sparse!, s.rowDoc.length));
    if (s.bm25) time('  of it: BM25 dictionary + posting walk', r, () => bm25PostingsProblem(s.bm25!, s.keys.length));
    time('segmentChecksum (CRC, WASM)', r, () => segmentChecksum(s));
  }
  const live = time('LiveIndex.build', r, () => LiveIndex.build(segs, [], { dims: DIMS, bm25: true }));
  void live;
}
// The first answer: a fresh open (FileStore: its own reads and checks) then one hybrid query.
const t0 = cpuMs();
const idx = await M3Index.open('open-steps', { store: new FileStore(dir), model: { modelId: `${WORKLOAD}/synthetic`, dims: DIMS } });
const t1 = cpuMs();
await idx.search({ text: q.text, embedding: { dense: q.dense, sparse: q.sparse, tokens: 0, truncated: false } }, { k: 10, includeText: false });
const t2 = cpuMs();
idx.close();
console.log(
  `${n} docs in ${segs.length} segments; load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const [label, ms] of Object.entries(times)) console.log(`${label.padEnd(42)} ${ms.map((x) => x.toFixed(0).padStart(6)).join(' ')} ms CPU`);
console.log(`FileStore M3Index.open ${(t1 - t0).toFixed(0)} ms CPU, first hybrid query ${(t2 - t1).toFixed(0)} ms CPU`);
