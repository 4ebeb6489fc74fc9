/**
 * npx tsx bench/ingest-steps.ts [n=20000] [rounds=3]
 *
 * In-process A/B of the CPU an add() batch spends before its write (issue 14), in Node over the bench workload
 * (vectors given, 1,000-document batches): the per-document path (analyzeTermPositions per text, buildBm25's
 * regrouping, the scalar int8 quantiser) against ingest's (bm25BlockOf, quantizeInt8Rows), alternating batch by
 * batch so both see the same machine; then what the main thread keeps when a builder worker builds the segment
 * (packBatch: the rows into transferable arrays), the segment's checksum and a cold open's checks per document.
 * process.cpuUsage (this process only): on a shared machine wall time measures the others too.
 */
import os from 'node:os';
import { quantizeInt8Into } from '../src/rank/dense-scan.ts';
import { analyzeTermPositions } from '../src/rank/term-stats.ts';
import { bm25BlockOf } from '../src/store/bm25-batch.ts';
import { quantizeInt8Rows } from '../src/store/quantize.ts';
import { segmentChecksum, segmentProblem } from '../src/store/segment-check.ts';
import { buildSegment, type PreparedDoc } from '../src/store/segment-builder.ts';
import { packBatch } from '../src/store/segment-batch.ts';
import type { SegmentRecord } from '../src/store/types.ts';
import { DIMS, Workload } from './workload.ts';

const n = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const BATCH = 1000;
const w = new Workload(n);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const times: Record<string, number> = {};
function time<T>(label: string, f: () => T): T {
  const t = cpuMs();
  const r = f();
  times[label] = (times[label] ?? 0) + cpuMs() - t;
  return r;
}

interface Batch {
  docs: { id: string; text: string; dense: Float32Array; sparse: ReturnType<Workload['docSparse']> }[];
}
const batches: Batch[] = [];
for (let b = 0; b < n; b += BATCH) {
  const dense = new Float32Array(BATCH * DIMS);
  batches.push({
    docs: Array.from({ length: BATCH }, (_, k) => ({
      id: w.docId(b + k),
      text: w.docText(b + k),
      dense: w.docDense(b + k, dense, k * DIMS).subarray(k * DIMS, (k + 1) * DIMS),
      sparse: w.docSparse(b + k),
    })),
  });
}

/** Before: a positions Map per document, regrouped by buildBm25; the scalar quantiser per row. */
function perDocument({ docs }: Batch): SegmentRecord {
  const pdocs: PreparedDoc[] = docs.map((d, i) => ({ key: i, id: d.id, metadata: null, rows: [{ sparse: d.sparse }], bm25: analyzeTermPositions(d.text) }));
  const codes = new Int8Array(docs.length * DIMS);
  const scales = new Float32Array(docs.length);
  docs.forEach((d, i) => (scales[i] = quantizeInt8Into(d.dense, 0, DIMS, codes, i * DIMS)));
  return { ...buildSegment(0, pdocs, { dims: DIMS, colbert: false }), dense: { dims: DIMS, codes, scales } };
}

/** Now: the batch's BM25 block in one pass, the rows quantised by the WASM kernel. */
function onePass({ docs }: Batch): SegmentRecord {
  const pdocs: PreparedDoc[] = docs.map((d, i) => ({ key: i, id: d.id, metadata: null, rows: [{ sparse: d.sparse }] }));
  const codes = new Int8Array(docs.length * DIMS);
  const scales = new Float32Array(docs.length);
  quantizeInt8Rows(
    docs.map((d) => d.dense),
    DIMS,
    codes,
    scales,
  );
  return { ...buildSegment(0, pdocs, { dims: DIMS, colbert: false }), dense: { dims: DIMS, codes, scales }, bm25: bm25BlockOf(docs.map((d) => d.text)) };
}

const segs: SegmentRecord[] = [];
for (let r = 0; r < rounds; r++) {
  for (const [i, b] of batches.entries()) {
    const order = (i + r) % 2 ? [perDocument, onePass] : [onePass, perDocument];
    for (const f of order) {
      const seg = time(f === onePass ? 'prepare, one pass (now)' : 'prepare, per document (before)', () => f(b));
      if (r === 0 && f === onePass) segs.push({ ...seg, keys: Uint32Array.from(seg.keys, (_, k) => i * BATCH + k), seq: i });
    }
  }
}
for (const { docs } of batches)
  time('main thread with a builder worker: packBatch', () =>
    packBatch({
      docs: docs.map((d) => ({ key: 0, id: d.id, metadata: null, rows: [{ dense: d.dense, sparse: d.sparse }] })),
      texts: docs.map((d) => d.text),
      analyzer: undefined,
      opts: { dims: DIMS, colbert: false },
    }),
  );
for (const s of segs) {
  time('checksum (write and open)', () => segmentChecksum(s));
  time('open: segmentProblem', () => segmentProblem(s, DIMS));
}
console.log(
  `${n} docs × ${rounds} rounds, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; CPU µs per document:`,
);
for (const [k, v] of Object.entries(times)) console.log(`  ${((v / (k.startsWith('prepare') ? n * rounds : n)) * 1000).toFixed(1).padStart(7)}  ${k}`);
