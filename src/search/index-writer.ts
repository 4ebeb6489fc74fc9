/**
 * Every write of an M3Index: add/upsert (pipelined batches, one segment and one transaction each), remove,
 * clear, compaction, the v1 migration, a re-embed, and the sparse rewrite of head tuning.
 *
 * Each write takes the store's write lock (Web Locks across tabs, a lock file across processes) and first
 * brings memory up to the stored meta (TabSync.underLock): segments another tab or process committed
 * meanwhile are loaded first, so keys never clash.
 */
import { abortError, isQuotaError, M3QuotaError } from '../store/errors.ts';
import { M3InputError } from '../errors.ts';
import type { PreparedDoc, PreparedRow } from '../store/segment-builder.ts';
import type { Reanalyze } from '../store/segment-merge.ts';
import type { DocRecord, MetaRecord, PackedTexts, SegmentRecord, SparseBlock } from '../store/types.ts';
import { withKeys } from '../util/sorted-sets.ts';
import { passages } from './chunking.ts';
import { planCompaction, planMerges, shouldCompact } from './compaction-plan.ts';
import type { MergePolicy } from './merge-policy.ts';
import { preview, validateDocs } from './doc-checks.ts';
import { freshMeta, identity } from '../store/fresh-meta.ts';
import { type IndexState, sortByKeys } from './index-state.ts';
import { replaceSegments } from './live-merge.ts';
import type { TabSync } from './tab-sync.ts';
import type { ChunkOptions, EncoderLike, IndexDoc, IngestOptions } from './types.ts';

/** The segment builders, loaded on the first write (segment-building.ts says why). */
let building: Promise<typeof import('./segment-building.ts')> | undefined;
const segmentBuilding = () => (building ??= import('./segment-building.ts'));

const DEFAULT_BATCH = 1000;
/** Batches prepared ahead of the one committing, where a builder worker codes them. */
const AHEAD = 2;

interface Prepared {
  chunks: ([number, number][] | undefined)[];
  /** The batch's segment, built outside the write lock: seq and keys are placeholders until commit. */
  segment: SegmentRecord;
  /** The batch's texts in the store's stored form (Store.packTexts), where the store packs them. */
  texts?: PackedTexts;
}

export class IndexWriter {
  constructor(
    private readonly state: IndexState,
    private readonly sync: TabSync,
  ) {}

  /** Adds (`replace` false: an id already present is an error) or upserts documents; returns how many. */
  async ingest(docs: IndexDoc[], opts: IngestOptions, replace: boolean, legacyIds?: string[][]): Promise<number> {
    const { state } = this;
    state.check();
    validateDocs(docs, state.meta.dims);
    if (!replace) {
      const taken = docs.filter((d) => state.live.idToKey.has(d.id)).map((d) => d.id);
      if (taken.length) throw new Error(`ids already in the index (use upsert to replace): ${preview(taken)}`);
    }
    if (!state.encoder && docs.some((d) => !d.embedding)) throw new Error('documents without an embedding need an encoder');
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
    const batches: IndexDoc[][] = [];
    for (let at = 0; at < docs.length; at += batchSize) batches.push(docs.slice(at, at + batchSize));
    // With a builder worker, the next batches go to it before batch N commits (one after another, so the worker
    // always has one queued and an encoder is never asked twice at once): the worker codes them while this
    // thread clones N into the store. On the main thread N+1 is prepared once N's writes are queued, so the
    // preparing overlaps the store's wait on the disk instead of delaying the commit.
    // Two batches ahead where no encoding waits (an abort then waits for one batch's encoding at most, as before).
    const ahead = (await segmentBuilding()).builderWorkerAvailable() ? (docs.every((d) => d.embedding) ? AHEAD : 1) : 0;
    const pending = new Map<number, Promise<Prepared>>();
    let chain: Promise<unknown> = Promise.resolve();
    const want = (b: number) => {
      if (b >= batches.length || pending.has(b)) return;
      const p = chain.then(() => {
        if (opts.signal?.aborted) throw abortError(opts.signal.reason);
        return this.prepare(batches[b], opts, b * batchSize, docs.length);
      });
      p.catch(() => {}); // surfaces when awaited
      chain = p.catch(() => {});
      pending.set(b, p);
    };
    try {
      for (let b = 0; b < batches.length; b++) {
        if (opts.signal?.aborted) {
          await settle();
          throw abortError(opts.signal.reason);
        }
        const batch = batches[b];
        want(b);
        const prepared = await pending.get(b)!;
        pending.delete(b);
        for (let k = 1; k <= ahead; k++) want(b + k);
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
    } finally {
      // Nothing of this call still runs when it returns or throws (a batch prepared ahead, a commit in flight).
      await chain;
      await (inflight as Promise<void> | null)?.catch(() => {});
    }
    await settle();
    await this.maybeCompact();
    if (!opts.signal?.aborted) await this.merge();
    return done;
  }

  /** Encodes (where needed), chunks and analyses one batch; nothing is written here. */
  private async prepare(batch: IndexDoc[], opts: IngestOptions, done: number, total: number): Promise<Prepared> {
    const { state } = this;
    const { meta, encoder } = state;
    const rows: PreparedRow[][] = new Array(batch.length);
    const chunks: ([number, number][] | undefined)[] = new Array(batch.length);
    const texts: string[] = [];
    const owners: [number, [number, number]][] = [];
    const chunkOpts: ChunkOptions = state.opts.chunk ?? {};
    batch.forEach((d, i) => {
      const e = d.embedding;
      if (e) {
        rows[i] = [{ dense: e.dense, sparse: e.sparse, colbert: meta.colbert ? e.colbert : undefined }];
        return;
      }
      const spans = passages(d.text, chunkOpts, encoder);
      rows[i] = [];
      if (spans.length > 1) chunks[i] = spans;
      for (const span of spans) {
        texts.push(spans.length > 1 ? d.text.slice(span[0], span[1]) : d.text);
        owners.push([i, span]);
      }
    });
    if (texts.length) {
      const heads = (encoder!.info as { heads?: { sparse?: boolean; colbert?: boolean } }).heads;
      const out = await encoder!.encode(texts, { dense: true, sparse: heads?.sparse !== false, colbert: meta.colbert });
      opts.onProgress?.({ done: done + batch.length, total, phase: 'encode', tokens: out.reduce((n, e) => n + e.tokens, 0) });
      out.forEach((e, j) => {
        const [i, span] = owners[j];
        rows[i].push({ dense: e.dense, sparse: e.sparse, colbert: e.colbert, ...(chunks[i] ? { span } : {}) });
      });
    }
    // BM25 analysis and the segment itself need no key: both are built here, outside the write lock, while
    // the previous batch commits. Under the lock only the keys and the sequence number are filled in.
    // BM25: the texts analysed straight into the segment's postings (one pass, bm25-batch.ts).
    // The segment in the builder worker where there is one, the texts packed here meanwhile.
    const { buildBatchSegment } = await segmentBuilding();
    const pdocs: PreparedDoc[] = batch.map((d, i) => ({ key: 0, id: d.id, metadata: d.metadata ?? null, rows: rows[i] }));
    const built = buildBatchSegment({
      docs: pdocs,
      texts: state.live.bm25 ? batch.map((d) => d.text) : null,
      analyzer: state.analyzer,
      opts: { dims: meta.dims, colbert: meta.colbert, colbertBits: meta.colbertBits ?? 8, denseRefine: meta.denseRefine === true },
    });
    built.catch(() => {}); // surfaces below, after the texts
    // Texts too (IdbStore compresses them): under the lock only the writes are queued.
    const packed = await state.store.packTexts?.(batch.map((d, i) => ({ id: d.id, text: d.text, ...(chunks[i] ? { chunks: { spans: chunks[i] } } : {}) })));
    const segment = await built;
    return { chunks, segment, ...(packed ? { texts: packed } : {}) };
  }

  /** One batch → one segment → one transaction. Returns the segment's bytes. */
  private async commitBatch(batch: IndexDoc[], prepared: Prepared, replace: boolean, legacyIds?: string[], onQueued?: () => void): Promise<number> {
    const { state } = this;
    return state.store.withWriteLock(async () => {
      await this.sync.underLock();
      const { live } = state;
      if (!replace) {
        const taken = batch.filter((d) => live.idToKey.has(d.id)).map((d) => d.id);
        if (taken.length) throw new Error(`ids already in the index (added by another tab?): ${preview(taken)}`);
      }
      const meta = state.meta;
      const seq = meta.nextSeq;
      // Keys are the one thing that needs the lock: documents get nextKey, nextKey + 1, … in batch order.
      const keys = new Uint32Array(batch.length);
      for (let i = 0; i < keys.length; i++) keys[i] = meta.nextKey + i;
      const segment: SegmentRecord = { ...prepared.segment, seq, keys };
      const replaced = batch.map((d) => live.idToKey.get(d.id)).filter((k): k is number => k !== undefined);
      const next: MetaRecord = {
        ...meta,
        nextKey: meta.nextKey + batch.length,
        nextSeq: seq + 1,
        docCount: meta.docCount + batch.length - replaced.length,
        tombstones: replaced.length ? withKeys(meta.tombstones, replaced) : meta.tombstones,
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
      await state.store.commit(
        { meta: next, segments: [segment], putDocs, packedTexts: [prepared.texts], ...(legacyIds ? { deleteLegacyIds: legacyIds } : {}) },
        { onQueued },
      );
      state.meta = next;
      for (const k of replaced) live.kill(k);
      live.appendSegment(segment);
      state.forgetDocs(putDocs.map((d) => d.id));
      return (await segmentBuilding()).segmentBytes(segment) + putDocs.reduce((n, d) => n + d.text.length * 2, 0);
    });
  }

  /** Removes documents by id (checked by the caller); unknown ids are ignored. Returns how many went. */
  async remove(ids: string[]): Promise<number> {
    const { state } = this;
    const n = await state.store.withWriteLock(async () => {
      await this.sync.underLock();
      const keys: number[] = [];
      const gone: string[] = [];
      for (const id of new Set(ids)) {
        const k = state.live.idToKey.get(id);
        if (k !== undefined) keys.push(k), gone.push(id);
      }
      if (!keys.length) return 0;
      const next: MetaRecord = {
        ...state.meta,
        docCount: state.meta.docCount - keys.length,
        tombstones: withKeys(state.meta.tombstones, keys),
        updatedAt: Date.now(),
      };
      await state.store.commit({ meta: next, deleteDocIds: gone });
      state.meta = next;
      for (const k of keys) state.live.kill(k);
      state.forgetDocs(gone);
      return keys.length;
    });
    await this.maybeCompact();
    return n;
  }

  /** Removes every document (one transaction); the model identity, the analyzer and a tuned head stay. */
  async clear(): Promise<void> {
    const { state } = this;
    await state.store.withWriteLock(async () => {
      const m = state.meta;
      const next: MetaRecord = { ...freshMeta(identity(m), m.colbert, m.analyzer, undefined, m.colbertBits ?? 8), nextKey: m.nextKey, nextSeq: m.nextSeq };
      if (m.sparseHead) next.sparseHead = m.sparseHead; // new documents still go through the tuned head
      await state.store.reset(next);
      state.meta = next;
      state.rebuild([]);
    });
  }

  /** Rewrites segments that hold tombstones, merging small neighbours (compaction-plan.ts), in one transaction. */
  async compact(): Promise<void> {
    const { state } = this;
    await state.store.withWriteLock(async () => {
      await this.sync.underLock();
      const meta = state.meta;
      if (!meta.tombstones.length && meta.segments.length < 2) return;
      const dead = new Set(meta.tombstones);
      const { mergeSegments } = await segmentBuilding();
      const segs = sortByKeys(await state.store.readSegments(meta.segments));
      const plan = planCompaction(segs, dead);
      let seq = meta.nextSeq;
      const written: SegmentRecord[] = [];
      const dropped: number[] = [];
      for (const g of plan.rewrite) {
        for (const s of g) dropped.push(s.seq);
        const merged = mergeSegments(seq++, g, (k) => !dead.has(k), meta.dims, meta.colbertBits ?? 8, await this.textsForPositions(g, dead));
        if (merged.keys.length) written.push(merged);
      }
      if (!written.length && !dropped.length) return;
      const keep = plan.keep.map((s) => s.seq);
      const next: MetaRecord = {
        ...meta,
        nextSeq: seq,
        tombstones: [],
        segments: [...keep, ...written.map((s) => s.seq)].sort((a, b) => a - b),
        updatedAt: Date.now(),
      };
      await state.store.commit({ meta: next, segments: written, deleteSegments: dropped });
      state.meta = next;
      state.rebuild(sortByKeys([...plan.keep, ...written]));
    });
  }

  /**
   * Tiered merges (compaction-plan.ts planMerges; OpenOptions.merge): runs of neighbouring segments of one
   * size tier rewritten into one segment each, so an index grown by many small adds holds a few large
   * segments (one BM25 dictionary and one set of sparse list headers instead of many; fewer per-segment steps
   * per query). A merge keeps every row, dead ones included (compaction drops those), so it depends on no
   * tombstone (unless an id would appear twice: then its dead rows go): each is built outside the write lock and committed under it (one transaction) only if its
   * segments are still stored as they were; memory then swaps the segments without touching rows or keys.
   * A quota error leaves the index as it was, unmerged: the documents added are all there. Returns the merges made.
   */
  async merge(given?: MergePolicy): Promise<number> {
    const { state } = this;
    const policy = given ?? state.opts.merge;
    if (policy === false) return 0;
    const { live } = state;
    // Sizes in key order; a BM25 block without positions (schema 4) would drop the others' positions, and
    // is left to compaction (which re-analyses its texts).
    const segs = live.segments.map((s) => ({ seq: s.seq, docs: s.bm25 && !s.bm25.positions ? Number.POSITIVE_INFINITY : s.keys.length }));
    const plan = planMerges(
      segs.map((s) => s.docs),
      policy,
    );
    let merges = 0;
    for (const [a, b] of plan) {
      const seqs = segs.slice(a, b).map((s) => s.seq);
      const parts = sortByKeys(await state.store.readSegments(seqs));
      if (parts.length !== seqs.length) return merges; // compacted or cleared meanwhile
      const { concatSegments, mergeSegments } = await segmentBuilding();
      const { dims, colbertBits } = state.meta;
      // An id upserted (or removed and added again) inside the run would appear twice in one segment, which no
      // segment may: then the merge drops the run's dead rows and their tombstones, and memory is rebuilt.
      const seen = new Set<string>();
      const dup = parts.some((p) => p.ids.some((id) => seen.size === seen.add(id).size));
      const dead = new Set(state.meta.tombstones);
      const dropped = dup ? parts.flatMap((p) => Array.from(p.keys).filter((k) => dead.has(k))) : [];
      const merged = dup
        ? mergeSegments(0, parts, (k) => !dead.has(k), dims, colbertBits ?? 8)
        : (concatSegments(0, parts, dims) ?? mergeSegments(0, parts, () => true, dims, colbertBits ?? 8));
      const ok = await state.store
        .withWriteLock(async () => {
          await this.sync.underLock();
          const meta = state.meta;
          if (seqs.some((s) => !meta.segments.includes(s))) return false; // another writer rewrote them
          const seg: SegmentRecord = { ...merged, seq: meta.nextSeq };
          const gone = new Set(dropped);
          const next: MetaRecord = {
            ...meta,
            nextSeq: seg.seq + 1,
            segments: [...meta.segments.filter((s) => !seqs.includes(s)), ...(seg.keys.length ? [seg.seq] : [])].sort((x, y) => x - y),
            tombstones: gone.size ? meta.tombstones.filter((k) => !gone.has(k)) : meta.tombstones,
            updatedAt: Date.now(),
          };
          await state.store.commit({ meta: next, segments: seg.keys.length ? [seg] : [], deleteSegments: seqs });
          state.meta = next;
          if (dropped.length || !replaceSegments(state.live, seqs, seg)) await state.loadAll();
          return true;
        })
        .catch((e) => {
          if (isQuotaError(e)) return false;
          throw e;
        });
      if (!ok) return merges;
      merges++;
    }
    return merges;
  }

  /** Schema 4 segments among those merged store no term positions: their live texts let the merge add them. */
  private async textsForPositions(group: SegmentRecord[], dead: Set<number>): Promise<Reanalyze | undefined> {
    const ids: string[] = [];
    const keys: number[] = [];
    for (const s of group)
      if (s.bm25 && !s.bm25.positions)
        s.keys.forEach((key, i) => {
          if (!dead.has(key)) ids.push(s.ids[i]), keys.push(key);
        });
    if (!ids.length) return undefined;
    const docs = await this.state.store.getDocs(ids);
    const texts = new Map<number, string>();
    docs.forEach((d, i) => d && d.key === keys[i] && texts.set(keys[i], d.text));
    return { textOf: (key) => texts.get(key), analyzer: this.state.analyzer };
  }

  private async maybeCompact(): Promise<void> {
    const { meta, opts } = this.state;
    if (shouldCompact(meta.tombstones.length, meta.docCount, opts.compactThreshold)) await this.compact();
  }

  /** v1 databases: re-ingest the legacy records (their vectors as given) in batches. */
  async migrateLegacy(): Promise<void> {
    const { store, opts } = this.state;
    for (;;) {
      const legacy = await store.legacyDocs(DEFAULT_BATCH);
      if (!legacy.length) return;
      const docs: IndexDoc[] = legacy.map((l) => ({
        id: l.id,
        text: l.text,
        ...(l.metadata ? { metadata: l.metadata } : {}),
        ...(l.dense || l.sparse ? { embedding: { dense: l.dense, sparse: l.sparse, tokens: 0, truncated: false } } : {}),
      }));
      await this.ingest(docs, { batchSize: docs.length, onProgress: (p) => opts.onProgress?.({ ...p, phase: 'migrate' }) }, true, [legacy.map((l) => l.id)]);
    }
  }

  /** Re-encodes every stored text with the current encoder into a fresh index (onMismatch: 're-embed'). */
  async reembed(fresh: MetaRecord): Promise<void> {
    const { state } = this;
    const docs = await state.store.allDocs();
    await state.store.withWriteLock(() => state.store.reset(fresh));
    state.meta = fresh;
    state.rebuild([]);
    const total = docs.length;
    await this.ingest(
      docs.map((d) => ({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) })),
      { onProgress: (p) => state.opts.onProgress?.({ done: p.done, total, phase: 're-embed' }) },
      true,
    );
  }

  /**
   * Head tuning: rewrites every segment's sparse postings with `sparseOf`, records which head made them
   * (`head`; undefined = the base head) and encodes with `encoder` from now on. One transaction: when
   * `sparseOf` throws (an abort), nothing changes.
   */
  async rewriteSparse(encoder: EncoderLike, head: MetaRecord['sparseHead'], sparseOf: (seg: SegmentRecord) => Promise<SparseBlock | null>): Promise<void> {
    const { state } = this;
    state.check();
    if (state.meta.tombstones.length) await this.compact(); // dead rows have no text to re-encode
    await state.store.withWriteLock(async () => {
      await this.sync.underLock();
      const meta = state.meta;
      const segs = sortByKeys(await state.store.readSegments(meta.segments));
      let seq = meta.nextSeq;
      const written: SegmentRecord[] = [];
      for (const s of segs) written.push({ ...s, seq: seq++, sparse: await sparseOf(s) });
      const next: MetaRecord = { ...meta, nextSeq: seq, segments: written.map((s) => s.seq), updatedAt: Date.now() };
      if (head) next.sparseHead = head;
      else delete next.sparseHead;
      await state.store.commit({ meta: next, segments: written, deleteSegments: segs.map((s) => s.seq) });
      state.meta = next;
      state.encoder = encoder;
      state.rebuild(sortByKeys(written));
    });
  }
}
