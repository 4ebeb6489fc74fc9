/**
 * Bench page for `npm run bench` (bench/run.ts drives it through window.bench). Everything is
 * generated here, in the page, from the m3-bench-v1 streams (bench/workload.ts): no vectors cross
 * the Playwright wire. Timings are performance.now() in the page (cross-origin isolated: 5 µs).
 *
 * Orama and MiniSearch are imported lazily, so the page that times M3Index's cold open holds only
 * m3-search's code.
 */
import { M3Index } from '../../src/search/m3-index.ts';
import type { SearchMode, SearchOptions, SearchQuery } from '../../src/search/types.ts';
import { IdbStore } from '../../src/store/idb-store.ts';
import { colbertArrays } from '../../src/store/colbert-bits.ts';
import { segmentBytes } from '../../src/store/segment-builder.ts';
import { bm25BlockBytes, bm25PositionBytes } from '../../src/store/bm25-postings.ts';
import type { ColbertBits, SegmentRecord } from '../../src/store/types.ts';
import { builderCounts, useBuilderWorker } from '../../src/worker/segment-build-client.ts';
import { DIMS, KINDS, kindQuery, QUERIES, Workload, WORKLOAD, type Kind, type Query } from '../workload.ts';

const MODEL = { modelId: `${WORKLOAD}/synthetic`, dims: DIMS };
const GEN_CHUNK = 10_000; // documents generated (and handed to add()) at a time
const K = 10;

let W: Workload | null = null;
let queries: Query[] = [];
let colbertQ: Float32Array[] = [];
const open = new Map<string, M3Index>();

const log = (s: string) => console.log(s);
const wl = (): Workload => {
  if (!W) throw new Error('call init(n) first');
  return W;
};

export interface Stats {
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  count: number;
}

function stats(ms: number[]): Stats {
  const s = [...ms].sort((a, b) => a - b);
  const n = s.length;
  const p50 = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const p95 = s[Math.max(0, Math.ceil(0.95 * n) - 1)];
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { p50Ms: r(p50), p95Ms: r(p95), meanMs: r(s.reduce((a, b) => a + b, 0) / n), count: n };
}

const docIndex = (id: string): number => Number(id.slice(1));

function m3Query(q: Query, colbert = false): SearchQuery {
  return {
    text: q.text,
    embedding: { dense: q.dense, sparse: q.sparse, ...(colbert ? { colbert: colbertQ[q.index] } : {}), tokens: 0, truncated: false },
  };
}

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(`m3-search:${name}`);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => log(`deleteDatabase(${name}) blocked`);
  });
}

async function usage(): Promise<number> {
  const e = await navigator.storage.estimate();
  return e.usage ?? NaN;
}

async function heap(): Promise<{ usedJSHeapSize: number | null; uaSpecificBytes: number | null }> {
  const pm = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  let ua: number | null = null;
  const measure = (performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }).measureUserAgentSpecificMemory;
  if (measure && crossOriginIsolated) {
    // Chromium may wait for its next GC to answer; don't let that stall the run.
    ua = await Promise.race([measure.call(performance).then((r) => r.bytes), new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  }
  return { usedJSHeapSize: pm?.usedJSHeapSize ?? null, uaSpecificBytes: ua };
}

// ------------------------------------------------------------------------- setup

function init(n: number): { crossOriginIsolated: boolean; userAgent: string; cores: number; genMs: number } {
  const t = performance.now();
  W = new Workload(n);
  queries = W.queries(QUERIES);
  colbertQ = queries.map((q) => W!.queryColbert(q));
  return { crossOriginIsolated, userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, genMs: performance.now() - t };
}

/** Exact fp32 top-10 per query over every document, updated chunk by chunk during ingest (untimed). */
class ExactTop {
  readonly s = new Float64Array(QUERIES * K).fill(-Infinity);
  readonly i = new Int32Array(QUERIES * K).fill(-1);
  private readonly q = new Float32Array(QUERIES * DIMS);
  constructor(qs: Query[]) {
    qs.forEach((q, j) => this.q.set(q.dense, j * DIMS));
  }
  update(dense: Float32Array, base: number, m: number): void {
    const { q, s, i } = this;
    for (let d = 0; d < m; d++) {
      const o = d * DIMS;
      for (let j = 0; j < QUERIES; j++) {
        const qo = j * DIMS;
        let dot = 0;
        for (let x = 0; x < DIMS; x++) dot += q[qo + x] * dense[o + x];
        const t = j * K;
        if (dot <= s[t + K - 1]) continue;
        let p = K - 1;
        while (p > 0 && s[t + p - 1] < dot) {
          s[t + p] = s[t + p - 1];
          i[t + p] = i[t + p - 1];
          p--;
        }
        s[t + p] = dot;
        i[t + p] = base + d;
      }
    }
  }
  lists(): number[][] {
    return Array.from({ length: QUERIES }, (_, j) => Array.from(this.i.subarray(j * K, j * K + K)));
  }
}

interface IngestResult {
  name: string;
  n: number;
  colbert: boolean;
  addMs: number;
  genMs: number;
  docsPerSec: number;
  usageDeltaBytes: number;
  bytesPerDocEstimate: number;
  bytesPerDocRecords: number;
  recordBreakdownPerDoc: Record<string, number>;
  segments: number;
  /** Time add() spent in tiered segment merges (inside addMs), and how many ran. */
  mergeMs: number;
  merges: number;
  exact?: number[][];
}

/**
 * Ingests n generated documents with their vectors into a fresh IdbStore index via add() with the
 * default batch size. Only the add() calls are timed (generation and the exact-search bookkeeping
 * run between them).
 */
async function ingest(opts: {
  name: string;
  colbert?: boolean;
  /** OpenOptions.colbertBits (the library's default when absent). */
  colbertBits?: ColbertBits;
  /** ColBERT rows per document (the workload's 16 when absent). */
  colbertRows?: number;
  /** OpenOptions.denseRefine. */
  denseRefine?: boolean;
  exact?: boolean;
  limit?: number;
  /** Generate the documents without adding them (the generation cost alone). */
  generateOnly?: boolean;
}): Promise<IngestResult> {
  const w = wl();
  const n = Math.min(w.n, opts.limit ?? Infinity);
  await deleteDb(opts.name);
  const before = await usage();
  const store = new IdbStore(opts.name);
  const index = await M3Index.open(opts.name, { store, model: MODEL, colbert: !!opts.colbert, colbertBits: opts.colbertBits, denseRefine: opts.denseRefine });
  const exact = opts.exact ? new ExactTop(queries) : null;
  // The merges add() runs after its batches (OpenOptions.merge), timed on their own: the writer's merge() wrapped.
  const writer = await (index as unknown as { writer: () => Promise<{ merge: () => Promise<number> }> }).writer();
  const merge = writer.merge.bind(writer);
  let mergeMs = 0;
  let merges = 0;
  writer.merge = async () => {
    const t = performance.now();
    const made = await merge();
    mergeMs += performance.now() - t;
    merges += made;
    return made;
  };
  let addMs = 0;
  let genMs = 0;
  for (let b = 0; b < n; b += GEN_CHUNK) {
    const m = Math.min(GEN_CHUNK, n - b);
    const t0 = performance.now();
    const dense = new Float32Array(m * DIMS);
    const docs = Array.from({ length: m }, (_, k) => {
      const i = b + k;
      w.docDense(i, dense, k * DIMS);
      const text = w.docText(i);
      return {
        id: w.docId(i),
        text,
        embedding: {
          dense: dense.subarray(k * DIMS, (k + 1) * DIMS),
          sparse: w.docSparse(i),
          ...(opts.colbert ? { colbert: w.docColbert(i, opts.colbertRows) } : {}),
          tokens: 0,
          truncated: false,
        },
      };
    });
    const t1 = performance.now();
    if (!opts.generateOnly) await index.add(docs); // generateOnly: what generation alone costs (bench/ingest-profile.ts)
    const t2 = performance.now();
    genMs += t1 - t0;
    addMs += t2 - t1;
    exact?.update(dense, b, m);
    log(`  ingest ${opts.name}: ${b + m}/${n} (add ${((m / (t2 - t1)) * 1000).toFixed(0)} docs/s)`);
  }
  index.close();
  // Record sizes: what the segments' typed arrays and strings hold, plus the doc records.
  const reader = new IdbStore(opts.name, { persist: false });
  await reader.open();
  const segs = await reader.readSegments();
  reader.close();
  const breakdown = recordBreakdown(segs);
  // Texts: IdbStore's 'texts' groups and the text models they are coded with; ids, keys and metadata are in the segments.
  const { all: docBytes, models: textModelBytes } = await textBlockBytes(opts.name);
  breakdown.docRecords = docBytes;
  breakdown.textModels = textModelBytes;
  const records = segs.reduce((a, s) => a + segmentBytes(s), 0) + docBytes;
  await new Promise((r) => setTimeout(r, 500));
  const after = await usage();
  const per: Record<string, number> = {};
  for (const [k, v] of Object.entries(breakdown)) per[k] = Math.round((v / n) * 10) / 10;
  return {
    name: opts.name,
    n,
    colbert: !!opts.colbert,
    addMs,
    genMs,
    docsPerSec: (n / addMs) * 1000,
    usageDeltaBytes: after - before,
    bytesPerDocEstimate: (after - before) / n,
    bytesPerDocRecords: records / n,
    recordBreakdownPerDoc: per,
    segments: segs.length,
    mergeMs,
    merges,
    ...(exact ? { exact: exact.lists() } : {}),
  };
}

/** Bytes of an index's stored text blocks, read straight from IndexedDB. */
async function textBlockBytes(name: string): Promise<{ all: number; models: number }> {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = indexedDB.open(`m3-search:${name}`);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  try {
    type Model = { syms: string[]; lens: Uint8Array; units: Uint16Array; unitLens: Uint8Array };
    const blocks = await new Promise<{ z?: Uint8Array; c?: Uint8Array; docs?: unknown[]; model?: Model }[]>((res, rej) => {
      const r = db.transaction('texts').objectStore('texts').getAll();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    // Groups (coded with a text model, deflated, or from a migration) and the text models, each stored once
    // (a model counted as the characters of the runs it adds plus its code lengths and units).
    let models = 0;
    const groups = blocks.reduce((a, b) => {
      if (b.model) {
        const m = b.model;
        models += m.syms.reduce((x, y) => x + y.length, 0) + m.lens.byteLength + m.units.byteLength + m.unitLens.byteLength;
        return a;
      }
      const bytes = b.c ?? b.z;
      return a + (bytes ? bytes.byteLength + (b.c ? 4 : 0) : JSON.stringify(b.docs).length);
    }, 0);
    return { all: groups + models, models };
  } finally {
    db.close();
  }
}

function recordBreakdown(segs: SegmentRecord[]): Record<string, number> {
  // bm25 counts its term strings (UTF-16 before schema 6, as segmentBytes does) and positions too; bm25Terms and bm25Positions say how much of it they are.
  const b: Record<string, number> = { dense: 0, sparse: 0, bm25: 0, bm25Terms: 0, bm25Positions: 0, colbert: 0, idsKeysMeta: 0 };
  for (const s of segs) {
    const total = segmentBytes(s);
    const dense = s.dense ? s.dense.codes.byteLength + s.dense.scales.byteLength : 0;
    const sparse = s.sparse ? s.sparse.groupTokens.byteLength + s.sparse.groupOffsets.byteLength + s.sparse.postings.byteLength : 0;
    const colbert = s.colbert ? colbertArrays(s.colbert).reduce((a, [, x]) => a + x.byteLength, 0) : 0;
    let bm25 = 0;
    if (s.bm25) {
      // Schema 6: the front-coded dictionary (terms with their run lengths) counts as the terms.
      b.bm25Terms += s.bm25.dict ? s.bm25.dict.byteLength + s.bm25.dictIndex.byteLength : s.bm25.terms.reduce((n, t) => n + t.length * 2, 0);
      b.bm25Positions += bm25PositionBytes(s.bm25);
      bm25 = bm25BlockBytes(s.bm25);
    }
    b.dense += dense;
    b.sparse += sparse;
    b.colbert += colbert;
    b.bm25 += bm25;
    b.idsKeysMeta += total - dense - sparse - colbert - bm25;
  }
  return b;
}

// ------------------------------------------------------------------------- m3 queries

/** Opens an index (timed) and answers the first hybrid query (timed): the cold open to first answer. */
async function coldOpen(name: string): Promise<{ openMs: number; firstSearchMs: number; totalMs: number; sinceNavigationMs: number; docs: number }> {
  const t0 = performance.now();
  const index = await M3Index.open(name, { store: new IdbStore(name), model: MODEL });
  const t1 = performance.now();
  const hits = await index.search(m3Query(queries[0]), { k: K });
  const t2 = performance.now();
  if (hits.length !== K) throw new Error(`first search returned ${hits.length} hits`);
  open.set(name, index);
  return { openMs: t1 - t0, firstSearchMs: t2 - t1, totalMs: t2 - t0, sinceNavigationMs: t2, docs: index.count() };
}

async function openIndex(name: string): Promise<number> {
  const t0 = performance.now();
  open.set(name, await M3Index.open(name, { store: new IdbStore(name), model: MODEL }));
  return performance.now() - t0;
}

/** The width an open index writes its ColBERT vectors with (8 = int8). */
function colbertBits(name: string): number {
  const index = open.get(name);
  if (!index) throw new Error(`index ${name} is not open`);
  return index.info.colbertBits;
}

function closeIndex(name: string): void {
  open.get(name)?.close();
  open.delete(name);
}

interface ModeSpec {
  label: string;
  mode: SearchMode;
  options?: SearchOptions;
  colbert?: boolean;
}

/** Warm-up `warm` queries, then times `count` queries; returns stats and each query's top-k ids. */
async function timeMode(name: string, spec: ModeSpec, warm: number, count: number): Promise<Stats & { top: number[][] }> {
  const index = open.get(name);
  if (!index) throw new Error(`index ${name} is not open`);
  const opts: SearchOptions = { k: K, mode: spec.mode, ...spec.options };
  for (let j = 0; j < warm; j++) await index.search(m3Query(queries[j % queries.length], spec.colbert), opts);
  const ms: number[] = [];
  const top: number[][] = [];
  for (let j = 0; j < count; j++) {
    const q = m3Query(queries[j], spec.colbert);
    const t = performance.now();
    const hits = await index.search(q, opts);
    ms.push(performance.now() - t);
    top.push(hits.map((h) => docIndex(h.id)));
  }
  return { ...stats(ms), top };
}

/**
 * What a page of hits' texts costs (bench/text-ab.ts): each of `count` hybrid queries without texts, then
 * the same query with them (its texts not cached yet, as for a random query); p50 of both and of the
 * per-query differences.
 */
async function timeTextCost(name: string, count: number): Promise<{ withText: number; without: number; textCost: number }> {
  const index = open.get(name);
  if (!index) throw new Error(`index ${name} is not open`);
  const a: number[] = [];
  const b: number[] = [];
  for (let j = 0; j < count; j++) {
    const q = m3Query(queries[j % queries.length]);
    let t = performance.now();
    await index.search(q, { k: K, mode: 'hybrid', includeText: false });
    a.push(performance.now() - t);
    t = performance.now();
    await index.search(q, { k: K, mode: 'hybrid' });
    b.push(performance.now() - t);
  }
  return { withText: stats(b).p50Ms, without: stats(a).p50Ms, textCost: stats(b.map((x, i) => x - a[i])).p50Ms };
}

/** Runs `count` queries of a mode with nothing else going on (the runner profiles around it). */
async function repeatMode(name: string, spec: ModeSpec, count: number): Promise<void> {
  const index = open.get(name)!;
  for (let j = 0; j < count; j++) await index.search(m3Query(queries[j % queries.length], spec.colbert), { k: K, mode: spec.mode, ...spec.options });
}

/** Target recall and agreement with the exact fp32 top-10. */
function recall(
  top: number[][],
  exact: number[][],
): { targetRecallAt10: number; exactTargetRecallAt10: number; recallVsExactAt10: number; top10SetAgreement: number; top1Agreement: number } {
  let target = 0;
  let exactTarget = 0;
  let overlap = 0;
  let same = 0;
  let top1 = 0;
  top.forEach((t, j) => {
    const e = exact[j];
    const q = queries[j];
    if (t.includes(q.target)) target++;
    if (e.includes(q.target)) exactTarget++;
    const es = new Set(e);
    const o = t.filter((x) => es.has(x)).length;
    overlap += o / K;
    if (o === K) same++;
    if (t[0] === e[0]) top1++;
  });
  const n = top.length;
  return {
    targetRecallAt10: target / n,
    exactTargetRecallAt10: exactTarget / n,
    recallVsExactAt10: overlap / n,
    top10SetAgreement: same / n,
    top1Agreement: top1 / n,
  };
}

function targetRecall(top: number[][]): number {
  let hit = 0;
  top.forEach((t, j) => {
    if (t.includes(queries[j].target)) hit++;
  });
  return hit / top.length;
}

// ------------------------------------------------------------------------- query syntax (issue 15)

/**
 * Phrases are verified on the stored texts of the candidates holding all their words (no positions are stored),
 * so a phrase of two frequent words costs a read of most candidates' texts when fewer than k documents match:
 * seconds at 100k on this workload's small vocabulary. Fewer phrase queries keep the run short.
 */
const PHRASE_QUERIES = 25;

/** The query-syntax kinds in bm25 mode (constraints select, BM25 ranks), top-10 without texts. */
async function timeKinds(name: string, warm: number, count: number): Promise<Record<Kind, Stats & { meanHits: number; queries: number }>> {
  const index = open.get(name);
  if (!index) throw new Error(`index ${name} is not open`);
  const out = {} as Record<Kind, Stats & { meanHits: number; queries: number }>;
  const opts: SearchOptions = { k: K, mode: 'bm25', includeText: false };
  for (const kind of KINDS) {
    const n = kind === 'phrase' ? Math.min(count, PHRASE_QUERIES) : count;
    for (let j = 0; j < Math.min(warm, n); j++) await index.search(kindQuery(wl(), queries[j], kind).m3, opts);
    const ms: number[] = [];
    let hits = 0;
    for (let j = 0; j < n; j++) {
      const q = kindQuery(wl(), queries[j], kind).m3;
      const t = performance.now();
      const r = await index.search(q, opts);
      ms.push(performance.now() - t);
      hits += r.length;
    }
    out[kind] = { ...stats(ms), meanHits: hits / n, queries: n };
    log(`  query syntax ${kind}: p50 ${out[kind].p50Ms} ms, max ${Math.max(...ms).toFixed(1)} ms over ${n} queries`);
  }
  return out;
}

// ------------------------------------------------------------------------- anchors

/** Orama 3 hybrid (term + vector, similarity 0, top-10) on the same documents and queries. */
async function orama(
  warm: number,
  count: number,
): Promise<{ insertDocsPerSec: number; insertMs: number; hybrid: Stats; targetRecallAt10: number; heap: Awaited<ReturnType<typeof heap>> }> {
  const { create, insertMultiple, search } = await import('@orama/orama');
  const w = wl();
  const db = create({ schema: { id: 'string', text: 'string', embedding: `vector[${DIMS}]` } as const });
  let insertMs = 0;
  for (let b = 0; b < w.n; b += GEN_CHUNK) {
    const m = Math.min(GEN_CHUNK, w.n - b);
    // Orama's schema check wants a plain array (it stores a Float32Array copy in its vector index).
    const docs = Array.from({ length: m }, (_, k) => ({ id: w.docId(b + k), text: w.docText(b + k), embedding: Array.from(w.docDense(b + k)) }));
    const t = performance.now();
    await insertMultiple(db, docs, 1000);
    insertMs += performance.now() - t;
    log(`  orama insert: ${b + m}/${w.n}`);
  }
  const run = (q: Query) => search(db, { mode: 'hybrid', term: q.text, vector: { value: q.dense, property: 'embedding' }, similarity: 0, limit: K });
  for (let j = 0; j < warm; j++) await run(queries[j]);
  const ms: number[] = [];
  const top: number[][] = [];
  for (let j = 0; j < count; j++) {
    const t = performance.now();
    const res = await run(queries[j]);
    ms.push(performance.now() - t);
    top.push(res.hits.map((h) => docIndex(String(h.document.id))));
  }
  return { insertDocsPerSec: (w.n / insertMs) * 1000, insertMs, hybrid: stats(ms), targetRecallAt10: targetRecall(top), heap: await heap() };
}

/** MiniSearch BM25 (its default OR query over one text field), top-10 of its sorted results. */
async function minisearch(
  warm: number,
  count: number,
): Promise<{ addAllDocsPerSec: number; bm25: Stats; kinds: Partial<Record<Kind, Stats & { meanMatches: number }>>; heap: Awaited<ReturnType<typeof heap>> }> {
  const { default: MiniSearch } = await import('minisearch');
  const w = wl();
  const ms = new MiniSearch<{ id: string; text: string }>({ fields: ['text'] });
  let addMs = 0;
  for (let b = 0; b < w.n; b += GEN_CHUNK) {
    const m = Math.min(GEN_CHUNK, w.n - b);
    const docs = Array.from({ length: m }, (_, k) => ({ id: w.docId(b + k), text: w.docText(b + k) }));
    const t = performance.now();
    ms.addAll(docs);
    addMs += performance.now() - t;
  }
  for (let j = 0; j < warm; j++) ms.search(queries[j].text).slice(0, K);
  const times: number[] = [];
  for (let j = 0; j < count; j++) {
    const t = performance.now();
    ms.search(queries[j].text).slice(0, K);
    times.push(performance.now() - t);
  }
  // The same kinds as timeKinds, in MiniSearch's own terms (it ranks every match, then we take the top 10).
  const kinds: Partial<Record<Kind, Stats & { meanMatches: number }>> = {};
  const run = (kind: Kind, q: Query) => {
    const { a, b } = kindQuery(wl(), q, kind);
    if (kind === 'and') return ms.search(`${a} ${b}`, { combineWith: 'AND' });
    if (kind === 'andNot') return ms.search({ queries: [a, b], combineWith: 'AND_NOT' });
    if (kind === 'prefix') return ms.search(a, { prefix: true });
    return ms.search(a, { fuzzy: 1 });
  };
  for (const kind of ['and', 'andNot', 'prefix', 'fuzzy'] as const) {
    for (let j = 0; j < warm; j++) run(kind, queries[j]).slice(0, K);
    const t2: number[] = [];
    let matches = 0;
    for (let j = 0; j < count; j++) {
      const t = performance.now();
      const r = run(kind, queries[j]);
      r.slice(0, K);
      t2.push(performance.now() - t);
      matches += r.length;
    }
    kinds[kind] = { ...stats(t2), meanMatches: matches / count };
  }
  return { addAllDocsPerSec: (w.n / addMs) * 1000, bm25: stats(times), kinds, heap: await heap() };
}

/**
 * The read limit for a cold open: the time to read every stored segment record of an index from
 * IndexedDB (one getAll, structured-clone deserialisation included) with nothing built from them.
 */
async function idbReadLimit(name: string): Promise<{ readMs: number; bytes: number; records: number; mbPerSec: number }> {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = indexedDB.open(`m3-search:${name}`);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  try {
    const t0 = performance.now();
    const segs = await new Promise<SegmentRecord[]>((res, rej) => {
      const r = db.transaction('segments').objectStore('segments').getAll();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const readMs = performance.now() - t0;
    const bytes = segs.reduce((a, s) => a + segmentBytes(s), 0);
    return { readMs, bytes, records: segs.length, mbPerSec: bytes / 1e6 / (readMs / 1000) };
  } finally {
    db.close();
  }
}

/** Dense recall against the exact top-10 for several binary-stage rescoring depths (the default's curve). */
async function denseCurve(
  name: string,
  depths: number[],
  exact: number[][],
): Promise<{ rescore: number; p50Ms: number; recallVsExactAt10: number; top10SetAgreement: number }[]> {
  const out = [];
  for (const rescore of depths) {
    const r = await timeMode(
      name,
      { label: `dense binary ${rescore}`, mode: 'dense', options: { includeText: false, dense: { firstStage: 'binary', rescore } } },
      3,
      QUERIES,
    );
    const rec = recall(r.top, exact);
    out.push({ rescore, p50Ms: r.p50Ms, recallVsExactAt10: rec.recallVsExactAt10, top10SetAgreement: rec.top10SetAgreement });
  }
  return out;
}

/** Whether add() builds segments in the builder worker (bench/ingest-ab.ts compares); the batches built so far, by where. */
function builderWorker(on?: boolean): { worker: number; main: number } {
  if (on !== undefined) useBuilderWorker(on);
  return builderCounts();
}

const bench = {
  init,
  ingest,
  builderWorker,
  coldOpen,
  idbReadLimit,
  denseCurve,
  openIndex,
  closeIndex,
  colbertBits,
  timeMode,
  timeTextCost,
  timeKinds,
  repeatMode,
  recall,
  targetRecall,
  heap,
  orama,
  minisearch,
  deleteDb,
};
export type Bench = typeof bench;
(window as unknown as { bench: Bench; benchReady: boolean }).bench = bench;
(window as unknown as { benchReady: boolean }).benchReady = true;
