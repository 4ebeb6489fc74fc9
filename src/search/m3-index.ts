/**
 * M3Index: a persistent BGE-M3 index (dense + learned-sparse + optional ColBERT + BM25) over a Store,
 * answering searches from in-memory structures built once on open.
 *
 * Writes: each batch of documents becomes one immutable segment, committed with its document records
 * and the updated meta (segment list, tombstones, counters) in one store transaction, under the
 * store's write lock (Web Locks across tabs, a lock file across processes). Before writing, the meta is
 * re-read: segments another tab or process committed meanwhile are loaded first, so keys never clash.
 */
import type { M3Embedding } from '../encoder/types.ts';
import { bm25DocTerms } from '../rank/bm25.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { abortError, isQuotaError, M3ClosedError, M3IndexMismatchError, M3QuotaError, modelMismatch } from '../store/errors.ts';
import { M3InputError } from '../errors.ts';
import { IdbStore } from '../store/idb-store.ts';
import { buildSegment, segmentBytes, type PreparedDoc, type PreparedRow } from '../store/segment-builder.ts';
import { mergeSegments } from '../store/segment-merge.ts';
import { SCHEMA_VERSION, type DocRecord, type MetaRecord, type ModelIdentity, type SegmentRecord, type SparseBlock, type StorageInfo, type Store } from '../store/types.ts';
import { encoderWithStoredHead } from '../tune/head-store.ts';
import { MAX_DOC_CHARS, passages } from './chunking.ts';
import { highlightSpans, sparseMatches } from './explain.ts';
import { constrains, explainHit, planQuery, rankVerified, resolveConstraint, type Constraint } from './boolean-search.ts';
import { compileFilter } from './filter.ts';
import { FUSIONS } from './fusion.ts';
import { LiveIndex } from './live-index.ts';
import { Ranker } from './ranker.ts';
import type { StaticLoadOptions } from '../static/loader.ts';
import type {
  ChunkOptions,
  EncoderLike,
  FusionMode,
  Hit,
  IndexDoc,
  IngestOptions,
  OpenOptions,
  SearchMode,
  SearchOptions,
  SearchQuery,
  SignalWeights,
} from './types.ts';

export const MODES: readonly SearchMode[] = ['hybrid', 'dense', 'sparse', 'bm25', 'colbert'];

/** M3's README weights for dense/sparse/colbert; BM25 (scaled to [0, 1] by every fusion) as much as sparse. */
export const DEFAULT_WEIGHTS: Readonly<Required<SignalWeights>> = Object.freeze({ dense: 0.4, sparse: 0.2, colbert: 0.4, bm25: 0.2 });

const DEFAULT_BATCH = 1000;
const MAX_SEGMENT_DOCS = 16384;
const DOC_CACHE = 512;

export interface IndexInfo extends ModelIdentity {
  name: string;
  colbert: boolean;
  count: number;
  segments: number;
  tombstones: number;
  store: Store['kind'];
}

export class M3Index {
  private live: LiveIndex;
  private ranker: Ranker;
  private closed = false;
  private readonly docCache = new Map<string, DocRecord>();
  private unsubscribe: () => void = () => {};
  private syncing: Promise<void> | null = null;
  /** Set when another tab forced this instance closed (a newer schema version, or a delete). */
  closedReason: string | null = null;

  private constructor(
    readonly name: string,
    private readonly store: Store,
    private encoder: EncoderLike | undefined, // swapped by rewriteSparse (a tuned sparse head)
    private meta: MetaRecord,
    private readonly opts: OpenOptions,
  ) {
    this.live = new LiveIndex(this.liveOptions());
    this.ranker = new Ranker(this.live);
  }

  static async open(name: string, opts: OpenOptions = {}): Promise<M3Index> {
    const store = opts.store ?? defaultStore(name);
    const stored = await store.open();
    const given = identityOf(opts, stored);
    const fresh = freshMeta(given, opts.colbert ?? false);
    let meta = stored ?? fresh;
    let reembed = false;
    if (stored) {
      const legacy = stored.headHash === '' && stored.dtype === ''; // migrated from v1: not recorded
      const diff = modelMismatch(stored, given);
      if (diff.length) {
        const mode = opts.onMismatch ?? 'error';
        if (mode === 'error') {
          store.close();
          throw new M3IndexMismatchError(identity(stored), given, diff);
        }
        if (mode === 'reset') {
          await store.reset(fresh);
          meta = fresh;
        } else {
          if (!opts.encoder) throw new Error("onMismatch: 're-embed' needs an encoder");
          reembed = true;
        }
      } else if (legacy) meta = { ...stored, headHash: given.headHash, dtype: given.dtype };
      if (opts.colbert === true && !meta.colbert) meta = { ...meta, colbert: true }; // from now on
    }
    // Sparse postings made by a tuned head (issue 5): queries must be encoded by that head too.
    const encoder = !reembed && meta.sparseHead && opts.encoder ? await encoderWithStoredHead(store, meta.sparseHead, opts.encoder) : opts.encoder;
    const index = new M3Index(name, store, encoder, meta, opts);
    await index.loadAll();
    store.onVersionChange(() => {
      index.closed = true;
      index.closedReason = 'another tab upgraded or deleted this index; reopen it';
    });
    index.unsubscribe = store.onRemoteCommit(() => void index.refresh().catch(() => {}));
    await index.migrateLegacy();
    if (reembed) await index.reembed(fresh);
    return index;
  }

  /**
   * Loads a static index package (`m3-search index … --static OUT`) into IndexedDB, verified and swapped in
   * atomically, and opens it; offline, opens the installed version. See src/static/loader.ts.
   */
  static async fromStatic(url: string | URL, opts?: StaticLoadOptions): Promise<M3Index> {
    // Imported on demand: pages that never load packages don't bundle the loader.
    const { loadStaticIndex } = await import('../static/loader.ts');
    return loadStaticIndex(url, opts);
  }

  // ---------------------------------------------------------------- reading

  get info(): IndexInfo {
    return {
      name: this.name,
      ...identity(this.meta),
      colbert: this.meta.colbert,
      count: this.live.liveDocs,
      segments: this.meta.segments.length,
      tombstones: this.meta.tombstones.length,
      store: this.store.kind,
    };
  }

  count(): number {
    this.check();
    return this.live.liveDocs;
  }

  has(id: string): boolean {
    return this.live.idToKey.has(id);
  }

  async get(id: string): Promise<{ id: string; text: string; metadata?: Record<string, unknown> } | undefined> {
    this.check();
    checkId(id);
    if (!this.live.idToKey.has(id)) return undefined;
    const d = await this.doc(id);
    return d && { id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) };
  }

  async storage(): Promise<StorageInfo> {
    return this.store.storage();
  }

  /** Loads segments and deletes committed by another tab or process since the last look. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    this.syncing ??= (async () => {
      try {
        const m = await this.store.readMeta();
        if (m) await this.syncTo(m);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  async search(query: SearchQuery, options: SearchOptions = {}): Promise<Hit[]> {
    this.check();
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k <= 0) throw new M3InputError(`k must be a positive integer, got ${k}`);
    const mode = options.mode ?? 'hybrid';
    if (!MODES.includes(mode)) throw new M3InputError(`unknown mode "${mode}"; valid modes: ${MODES.join(', ')}`);
    const fusion: FusionMode = options.fusion ?? 'weighted';
    if (!FUSIONS.includes(fusion)) throw new M3InputError(`unknown fusion "${fusion}"; valid: ${FUSIONS.join(', ')}`);
    const candidates = options.candidates ?? 100;
    if (!Number.isInteger(candidates) || candidates <= 0) throw new M3InputError(`candidates must be a positive integer, got ${candidates}`);
    const rerank = options.rerank?.colbert ? { topN: options.rerank.topN ?? 100 } : null;
    const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
    for (const [s, w] of Object.entries(weights)) if (!(w >= 0) || !Number.isFinite(w)) throw new M3InputError(`weight ${s} must be a finite number >= 0, got ${w}`);
    const filter = compileFilter(options.filter);
    const dense = options.dense;
    if (dense?.firstStage !== undefined && dense.firstStage !== 'binary' && dense.firstStage !== 'int8') throw new M3InputError(`dense.firstStage must be 'binary' or 'int8', got ${JSON.stringify(dense.firstStage)}`);
    if (dense?.rescore !== undefined && !(Number.isInteger(dense.rescore) && dense.rescore > 0)) throw new M3InputError(`dense.rescore must be a positive integer, got ${dense.rescore}`);

    const plan = planQuery(query, options.syntax);
    const text = plan.text;
    let embedding = plan.embedding;
    if (!embedding && !plan.bool && (!text || !/[\p{L}\p{N}]/u.test(text))) return []; // plain syntax: empty or punctuation only
    if (this.live.liveDocs === 0) return [];
    const analyzer = this.analyzer();
    const constraint = constrains(plan.bool) ? resolveConstraint(this.live, plan.bool, mode, analyzer) : null;
    const needColbert = mode === 'colbert' || !!rerank || (mode === 'hybrid' && this.live.hasColbert && weights.colbert > 0);
    if (!embedding && mode !== 'bm25') {
      if (!this.encoder) throw new Error(`mode "${mode}" needs an encoder (or pass { embedding } in the query)`);
      if (!text || !/[\p{L}\p{N}]/u.test(text)) throw new Error(`mode "${mode}" needs words to encode: a query of only excluded clauses needs { embedding }`);
      const heads = (this.encoder.info as { heads?: { sparse?: boolean; colbert?: boolean } }).heads;
      [embedding] = await this.encoder.encode([text], {
        dense: true,
        sparse: heads?.sparse !== false,
        colbert: needColbert && heads?.colbert !== false,
      });
      this.check();
    }
    const request = { text, embedding, k, mode, fusion, weights, candidates, rerank, filter, aggregate: this.opts.chunk?.aggregate ?? 'max', ...(dense ? { dense } : {}) } as const;
    const ranked = constraint
      ? await rankVerified(constraint, k, (keys, n) => this.ranker.rank({ ...request, k: n, constraint: { keys, bm25: constraint.compiled.scoring } }), (keys) => this.textsOf(keys))
      : this.ranker.rank(request);
    this.check();
    const hits: Hit[] = ranked.map((r) => {
      const meta = this.live.keyMeta[r.key];
      return { id: this.live.keyId[r.key]!, score: r.score, signals: r.signals, ...(meta ? { metadata: meta } : {}) };
    });
    const wantText = options.includeText !== false || options.explain;
    if (!wantText) return hits;
    const docs = await Promise.all(hits.map((h) => this.doc(h.id)));
    hits.forEach((h, i) => {
      const d = docs[i];
      if (!d) return;
      if (options.includeText !== false) h.text = d.text;
      if (options.explain) this.explain(h, ranked[i].key, d, text, embedding, constraint);
    });
    return hits;
  }

  private explain(hit: Hit, key: number, doc: DocRecord, text: string | undefined, emb: M3Embedding | undefined, constraint: Constraint | null): void {
    const tokenText = (id: number) => this.encoder?.tokenText?.(id) ?? `#${id}`;
    let tokenTexts: string[] = [];
    if (emb?.sparse && this.live.sparseSegments.length) {
      const { matches, row } = sparseMatches(this.live, key, emb.sparse, tokenText);
      hit.matches = matches;
      tokenTexts = this.encoder?.tokenText ? matches.map((m) => m.token) : [];
      const seg = this.live.segmentOfRow(row);
      const local = row - seg.rowBase;
      if (seg.rowSpans.length) hit.passage = { start: seg.rowSpans[2 * local], end: seg.rowSpans[2 * local + 1] };
    }
    const bm25Query = constraint?.compiled.scoring ?? text;
    const terms = bm25Query && this.live.bm25 ? this.live.bm25.matchedTerms(bm25Query, key) : [];
    hit.terms = terms.map((t) => ({ term: t.term, contribution: t.weight }));
    const why = constraint ? explainHit(constraint, doc.text, this.analyzer()) : null;
    if (why) hit.clauses = why.clauses;
    hit.highlights = highlightSpans(doc.text, new Set(terms.map((t) => t.term)), tokenTexts, this.analyzer(), why?.spans);
  }

  /** Stored texts of live documents by key (phrase checks), read in one store call. */
  private async textsOf(keys: Uint32Array): Promise<(string | undefined)[]> {
    const ids = Array.from(keys, (k) => this.live.keyId[k]!);
    const docs = await this.store.getDocs(ids);
    return docs.map((d) => d?.text);
  }

  // ---------------------------------------------------------------- writing

  /** Adds new documents; an id that already exists is an error (nothing is written). */
  add(docs: IndexDoc[], opts: IngestOptions = {}): Promise<{ added: number }> {
    return this.ingest(docs, opts, false).then((n) => ({ added: n }));
  }

  /** Adds or replaces documents by id. */
  upsert(docs: IndexDoc[], opts: IngestOptions = {}): Promise<{ upserted: number }> {
    return this.ingest(docs, opts, true).then((n) => ({ upserted: n }));
  }

  private async ingest(docs: IndexDoc[], opts: IngestOptions, replace: boolean, legacyIds?: string[][]): Promise<number> {
    this.check();
    if (!Array.isArray(docs)) throw new M3InputError('docs must be an array');
    validateDocs(docs, this.meta.dims);
    if (!replace) {
      const taken = docs.filter((d) => this.live.idToKey.has(d.id)).map((d) => d.id);
      if (taken.length) throw new Error(`ids already in the index (use upsert to replace): ${preview(taken)}`);
    }
    if (!this.encoder && docs.some((d) => !d.embedding)) throw new Error('documents without an embedding need an encoder');
    const batchSize = opts.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new M3InputError(`batchSize must be a positive integer, got ${batchSize}`);
    let done = 0;
    let bytes = 0;
    // Pipelined: batch N+1 is prepared (vectors gathered, texts analysed for BM25) while batch N's transaction
    // commits. Commits still run one at a time in batch order, each batch one transaction, so a failure or an
    // abort leaves whole batches: the ones committed before it.
    let inflight: Promise<void> | null = null;
    const settle = async () => {
      const p = inflight;
      inflight = null;
      await p;
    };
    for (let at = 0, b = 0; at < docs.length; at += batchSize, b++) {
      if (opts.signal?.aborted) {
        await settle();
        throw abortError(opts.signal.reason);
      }
      const batch = docs.slice(at, at + batchSize);
      const prepared = await this.prepare(batch, opts, at, docs.length);
      await settle();
      if (opts.signal?.aborted) throw abortError(opts.signal.reason); // this batch is not written
      let queued!: () => void;
      const isQueued = new Promise<void>((r) => (queued = r));
      const p: Promise<void> = this.commitBatch(batch, prepared, replace, legacyIds?.[b], queued).then(
        (n) => {
          bytes += n;
          done += batch.length;
          opts.onProgress?.({ done, total: docs.length, phase: 'write' });
        },
        (e) => {
          if (isQuotaError(e)) throw new M3QuotaError(done, bytes, e);
          throw e;
        },
      );
      p.catch(() => {}); // surfaces through settle()
      inflight = p;
      // Go on once the writes are queued (the store then waits on the disk), or when the commit is over.
      await Promise.race([isQueued, p]);
    }
    await settle();
    await this.maybeCompact();
    return done;
  }

  /** Encodes (where needed), chunks and analyses one batch; nothing is written here. */
  private async prepare(batch: IndexDoc[], opts: IngestOptions, done: number, total: number): Promise<Prepared> {
    const rows: PreparedRow[][] = new Array(batch.length);
    const chunks: ([number, number][] | undefined)[] = new Array(batch.length);
    const texts: string[] = [];
    const owners: [number, [number, number]][] = [];
    const chunkOpts: ChunkOptions = this.opts.chunk ?? {};
    batch.forEach((d, i) => {
      const e = d.embedding;
      if (e) {
        rows[i] = [{ dense: e.dense, sparse: e.sparse, colbert: this.meta.colbert ? e.colbert : undefined }];
        return;
      }
      const spans = passages(d.text, chunkOpts, this.encoder);
      rows[i] = [];
      if (spans.length > 1) chunks[i] = spans;
      for (const span of spans) {
        texts.push(spans.length > 1 ? d.text.slice(span[0], span[1]) : d.text);
        owners.push([i, span]);
      }
    });
    if (texts.length) {
      const heads = (this.encoder!.info as { heads?: { sparse?: boolean; colbert?: boolean } }).heads;
      const out = await this.encoder!.encode(texts, { dense: true, sparse: heads?.sparse !== false, colbert: this.meta.colbert });
      opts.onProgress?.({ done: done + batch.length, total, phase: 'encode', tokens: out.reduce((n, e) => n + e.tokens, 0) });
      out.forEach((e, j) => {
        const [i, span] = owners[j];
        rows[i].push({ dense: e.dense, sparse: e.sparse, colbert: e.colbert, ...(chunks[i] ? { span } : {}) });
      });
    }
    // BM25 analysis and the segment itself need no key: both are built here, outside the write lock, while
    // the previous batch commits. Under the lock only the keys and the sequence number are filled in.
    const terms = this.live.bm25 ? batch.map((d) => bm25DocTerms(0, d.text, this.analyzer())) : null;
    const pdocs: PreparedDoc[] = batch.map((d, i) => ({
      key: 0,
      id: d.id,
      metadata: d.metadata ?? null,
      rows: rows[i],
      ...(terms ? { bm25: { tf: terms[i].terms, length: terms[i].length } } : {}),
    }));
    const segment = buildSegment(0, pdocs, { dims: this.meta.dims, colbert: this.meta.colbert });
    return { chunks, segment };
  }

  /** One batch → one segment → one transaction. Returns the segment's bytes. */
  private async commitBatch(batch: IndexDoc[], prepared: Prepared, replace: boolean, legacyIds?: string[], onQueued?: () => void): Promise<number> {
    return this.store.withWriteLock(async () => {
      await this.syncUnderLock();
      if (!replace) {
        const taken = batch.filter((d) => this.live.idToKey.has(d.id)).map((d) => d.id);
        if (taken.length) throw new Error(`ids already in the index (added by another tab?): ${preview(taken)}`);
      }
      const meta = this.meta;
      const seq = meta.nextSeq;
      // Keys are the one thing that needs the lock: documents get nextKey, nextKey + 1, … in batch order.
      const keys = new Uint32Array(batch.length);
      for (let i = 0; i < keys.length; i++) keys[i] = meta.nextKey + i;
      const segment: SegmentRecord = { ...prepared.segment, seq, keys };
      const replaced = batch.map((d) => this.live.idToKey.get(d.id)).filter((k): k is number => k !== undefined);
      const next: MetaRecord = {
        ...meta,
        nextKey: meta.nextKey + batch.length,
        nextSeq: seq + 1,
        docCount: meta.docCount + batch.length - replaced.length,
        tombstones: replaced.length ? mergeSorted(meta.tombstones, replaced) : meta.tombstones,
        segments: [...meta.segments, seq],
        updatedAt: Date.now(),
      };
      const putDocs: DocRecord[] = batch.map((d, i) => ({
        id: d.id,
        key: meta.nextKey + i,
        text: d.text,
        ...(d.metadata ? { metadata: d.metadata } : {}),
        ...(prepared.chunks[i] ? { chunks: { spans: prepared.chunks[i]! } } : {}),
      }));
      await this.store.commit({ meta: next, segments: [segment], putDocs, ...(legacyIds ? { deleteLegacyIds: legacyIds } : {}) }, { onQueued });
      this.meta = next;
      for (const k of replaced) this.live.kill(k);
      this.live.appendSegment(segment);
      for (const d of putDocs) this.docCache.delete(d.id);
      return segmentBytes(segment) + putDocs.reduce((n, d) => n + d.text.length * 2, 0);
    });
  }

  /** Removes documents by id; unknown ids are ignored. Returns how many were removed. */
  async remove(ids: string[]): Promise<number> {
    this.check();
    if (!Array.isArray(ids)) throw new M3InputError('ids must be an array');
    ids.forEach(checkId);
    const n = await this.store.withWriteLock(async () => {
      await this.syncUnderLock();
      const keys: number[] = [];
      const gone: string[] = [];
      for (const id of new Set(ids)) {
        const k = this.live.idToKey.get(id);
        if (k !== undefined) keys.push(k), gone.push(id);
      }
      if (!keys.length) return 0;
      const next: MetaRecord = { ...this.meta, docCount: this.meta.docCount - keys.length, tombstones: mergeSorted(this.meta.tombstones, keys), updatedAt: Date.now() };
      await this.store.commit({ meta: next, deleteDocIds: gone });
      this.meta = next;
      for (const k of keys) this.live.kill(k);
      for (const id of gone) this.docCache.delete(id);
      return keys.length;
    });
    await this.maybeCompact();
    return n;
  }

  /** Removes every document (one transaction); the model identity stays. */
  async clear(): Promise<void> {
    this.check();
    await this.store.withWriteLock(async () => {
      const next: MetaRecord = { ...freshMeta(identity(this.meta), this.meta.colbert), nextKey: this.meta.nextKey, nextSeq: this.meta.nextSeq };
      if (this.meta.sparseHead) next.sparseHead = this.meta.sparseHead; // new documents still go through the tuned head
      await this.store.reset(next);
      this.meta = next;
      this.rebuild([]);
    });
  }

  /**
   * Rewrites segments that hold tombstones (merging small neighbours, up to 16k docs per segment)
   * in one transaction. Runs by itself when tombstones pass `compactThreshold` of the stored docs.
   */
  async compact(): Promise<void> {
    this.check();
    await this.store.withWriteLock(async () => {
      await this.syncUnderLock();
      const meta = this.meta;
      if (!meta.tombstones.length && meta.segments.length < 2) return;
      const dead = new Set(meta.tombstones);
      const segs = sortByKeys(await this.store.readSegments(meta.segments));
      // Greedy runs of neighbouring segments (key order), each at most MAX_SEGMENT_DOCS live docs.
      const groups: SegmentRecord[][] = [];
      let cur: SegmentRecord[] = [];
      let curDocs = 0;
      for (const s of segs) {
        const liveDocs = Array.from(s.keys).filter((k) => !dead.has(k)).length;
        if (cur.length && curDocs + liveDocs > MAX_SEGMENT_DOCS) groups.push(cur), (cur = []), (curDocs = 0);
        cur.push(s);
        curDocs += liveDocs;
      }
      if (cur.length) groups.push(cur);
      let seq = meta.nextSeq;
      const written: SegmentRecord[] = [];
      const dropped: number[] = [];
      const keep: number[] = [];
      for (const g of groups) {
        const touched = g.length > 1 || g.some((s) => s.keys.some((k) => dead.has(k)));
        if (!touched) {
          keep.push(g[0].seq);
          continue;
        }
        for (const s of g) dropped.push(s.seq);
        const merged = mergeSegments(seq++, g, (k) => !dead.has(k), meta.dims);
        if (merged.keys.length) written.push(merged);
      }
      if (!written.length && !dropped.length) return;
      const next: MetaRecord = { ...meta, nextSeq: seq, tombstones: [], segments: [...keep, ...written.map((s) => s.seq)].sort((a, b) => a - b), updatedAt: Date.now() };
      await this.store.commit({ meta: next, segments: written, deleteSegments: dropped });
      this.meta = next;
      this.rebuild(sortByKeys([...segs.filter((s) => keep.includes(s.seq)), ...written]));
    });
  }

  private async maybeCompact(): Promise<void> {
    const t = this.meta.tombstones.length;
    const threshold = this.opts.compactThreshold ?? 0.25;
    if (t >= 64 && t > threshold * (this.meta.docCount + t)) await this.compact();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.store.close();
  }

  // ---------------------------------------------------------------- internals

  private async loadAll(): Promise<void> {
    const segs = this.meta.segments.length ? await this.store.readSegments(this.meta.segments) : [];
    this.rebuild(sortByKeys(segs));
  }

  private rebuild(segs: SegmentRecord[]): void {
    this.live = LiveIndex.build(segs, this.meta.tombstones, this.liveOptions());
    this.ranker = new Ranker(this.live);
    this.docCache.clear();
  }

  private liveOptions() {
    return { dims: this.meta.dims, bm25: this.opts.bm25 !== false, analyzer: this.analyzer() };
  }

  private analyzer(): AnalyzerOptions {
    return {};
  }

  /** Brings memory up to the store's meta (another writer committed). Call under the write lock. */
  private async syncUnderLock(): Promise<void> {
    const m = await this.store.readMeta();
    if (m) await this.syncTo(m);
  }

  private async syncTo(m: MetaRecord): Promise<void> {
    const mine = this.meta;
    if (m.updatedAt === mine.updatedAt && m.nextSeq === mine.nextSeq && m.tombstones.length === mine.tombstones.length) return;
    const have = new Set(mine.segments);
    const gone = mine.segments.some((s) => !m.segments.includes(s));
    this.meta = m;
    if (gone) return this.loadAll(); // compacted or cleared elsewhere: rebuild
    const added = m.segments.filter((s) => !have.has(s));
    for (const seg of sortByKeys(await this.store.readSegments(added))) this.live.appendSegment(seg);
    for (const k of m.tombstones) if (this.live.alive[k]) this.live.kill(k);
    this.docCache.clear();
  }

  private async doc(id: string): Promise<DocRecord | undefined> {
    let d = this.docCache.get(id);
    if (!d) {
      d = await this.store.getDoc(id);
      if (!d) return undefined;
      if (this.docCache.size >= DOC_CACHE) this.docCache.delete(this.docCache.keys().next().value!);
      this.docCache.set(id, d);
    }
    return d;
  }

  /** v1 databases: re-ingest the legacy records (their vectors as given) in batches. */
  private async migrateLegacy(): Promise<void> {
    for (;;) {
      const legacy = await this.store.legacyDocs(DEFAULT_BATCH);
      if (!legacy.length) return;
      const docs: IndexDoc[] = legacy.map((l) => ({
        id: l.id,
        text: l.text,
        ...(l.metadata ? { metadata: l.metadata } : {}),
        ...(l.dense || l.sparse ? { embedding: { dense: l.dense, sparse: l.sparse, tokens: 0, truncated: false } } : {}),
      }));
      await this.ingest(docs, { batchSize: docs.length, onProgress: (p) => this.opts.onProgress?.({ ...p, phase: 'migrate' }) }, true, [legacy.map((l) => l.id)]);
    }
  }

  /** Re-encodes every stored text with the current encoder into a fresh index (onMismatch: 're-embed'). */
  private async reembed(fresh: MetaRecord): Promise<void> {
    const docs = await this.store.allDocs();
    await this.store.withWriteLock(() => this.store.reset(fresh));
    this.meta = fresh;
    this.rebuild([]);
    const total = docs.length;
    await this.ingest(
      docs.map((d) => ({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) })),
      { onProgress: (p) => this.opts.onProgress?.({ done: p.done, total, phase: 're-embed' }) },
      true,
    );
  }

  /** For head tuning (src/tune): the store, the encoder in use, the one given to open (base head), the meta. */
  get tuning(): { store: Store; encoder: EncoderLike | undefined; baseEncoder: EncoderLike | undefined; meta: Readonly<MetaRecord> } {
    return { store: this.store, encoder: this.encoder, baseEncoder: this.opts.encoder, meta: this.meta };
  }

  /**
   * Head tuning (src/tune): rewrites every segment's sparse postings with `sparseOf`, records which head made
   * them (`head`; undefined = the base head) and encodes with `encoder` from now on. One transaction: when
   * `sparseOf` throws (an abort), nothing changes.
   */
  async rewriteSparse(encoder: EncoderLike, head: MetaRecord['sparseHead'], sparseOf: (seg: SegmentRecord) => Promise<SparseBlock | null>): Promise<void> {
    this.check();
    if (this.meta.tombstones.length) await this.compact(); // dead rows have no text to re-encode
    await this.store.withWriteLock(async () => {
      await this.syncUnderLock();
      const meta = this.meta;
      const segs = sortByKeys(await this.store.readSegments(meta.segments));
      let seq = meta.nextSeq;
      const written: SegmentRecord[] = [];
      for (const s of segs) written.push({ ...s, seq: seq++, sparse: await sparseOf(s) });
      const next: MetaRecord = { ...meta, nextSeq: seq, segments: written.map((s) => s.seq), updatedAt: Date.now() };
      if (head) next.sparseHead = head;
      else delete next.sparseHead;
      await this.store.commit({ meta: next, segments: written, deleteSegments: segs.map((s) => s.seq) });
      this.meta = next;
      this.encoder = encoder;
      this.rebuild(sortByKeys(written));
    });
  }

  private check(): void {
    if (this.closed) throw new M3ClosedError(this.closedReason ?? `index "${this.name}" is closed`);
  }
}

interface Prepared {
  chunks: ([number, number][] | undefined)[];
  /** The batch's segment, built outside the write lock: seq and keys are placeholders until commit. */
  segment: SegmentRecord;
}

function defaultStore(name: string): Store {
  if (typeof indexedDB !== 'undefined') return new IdbStore(name);
  throw new Error('no IndexedDB here: pass { store: new FileStore(dir) } (Node) or { store: new MemoryStore() }');
}

function identityOf(opts: OpenOptions, stored: MetaRecord | null): ModelIdentity {
  const e = opts.encoder?.info;
  if (e) {
    const modelId = e.modelId ?? e.model;
    if (!modelId) throw new Error('encoder.info needs modelId (or model)');
    return { modelId, dims: e.hidden, headHash: e.headHash ?? '', dtype: String(e.dtype ?? '') };
  }
  if (opts.model) return { modelId: opts.model.modelId, dims: opts.model.dims, headHash: opts.model.headHash ?? '', dtype: opts.model.dtype ?? '' };
  if (stored) return identity(stored);
  throw new Error('a new index needs an encoder, or { model: { modelId, dims } } for precomputed embeddings');
}

function identity(m: ModelIdentity): ModelIdentity {
  return { modelId: m.modelId, dims: m.dims, headHash: m.headHash, dtype: m.dtype };
}

function freshMeta(id: ModelIdentity, colbert: boolean): MetaRecord {
  const now = Date.now();
  return { schemaVersion: SCHEMA_VERSION, ...identity(id), colbert, nextKey: 0, nextSeq: 0, docCount: 0, tombstones: [], segments: [], createdAt: now, updatedAt: now };
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new M3InputError(`document id must be a non-empty string, got ${JSON.stringify(id)}`);
}

function validateDocs(docs: IndexDoc[], dims: number): void {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const d of docs) {
    if (d === null || typeof d !== 'object') throw new M3InputError('each document must be an object { id, text }');
    checkId(d.id);
    if (typeof d.text !== 'string') throw new M3InputError(`document "${d.id}": text must be a string`);
    if (d.text.length > MAX_DOC_CHARS) throw new M3InputError(`document "${d.id}" has ${d.text.length} characters; at most ${MAX_DOC_CHARS} are indexed: split it into several documents`);
    if (d.metadata !== undefined && (d.metadata === null || typeof d.metadata !== 'object')) throw new M3InputError(`document "${d.id}": metadata must be an object`);
    if (seen.has(d.id)) dup.add(d.id);
    seen.add(d.id);
    const e = d.embedding;
    if (e?.dense && e.dense.length !== dims) throw new M3InputError(`document "${d.id}": dense vector has ${e.dense.length} dims, the index has ${dims}`);
    if (e?.colbert && e.colbert.length % dims !== 0) throw new M3InputError(`document "${d.id}": colbert length ${e.colbert.length} is not a multiple of ${dims}`);
    if (e?.sparse && e.sparse.ids.length !== e.sparse.weights.length) throw new M3InputError(`document "${d.id}": sparse ids and weights differ in length`);
  }
  if (dup.size) throw new Error(`duplicate ids in one call: ${preview([...dup])}`);
}

function preview(ids: string[]): string {
  return ids.slice(0, 5).map((s) => JSON.stringify(s)).join(', ') + (ids.length > 5 ? ` and ${ids.length - 5} more` : '');
}

function mergeSorted(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

/** Segments ordered by their first key: rows then run in key order, which BM25's merge relies on. */
function sortByKeys(segs: SegmentRecord[]): SegmentRecord[] {
  return [...segs].sort((a, b) => (a.keys[0] ?? 0) - (b.keys[0] ?? 0) || a.seq - b.seq);
}
