/**
 * The state one open M3Index works on, shared by its modules (writer, tab sync, search): the store, the
 * meta as last committed or read, the in-memory LiveIndex and its Ranker, the encoder in use, and a small
 * cache of document records.
 */
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { M3ClosedError } from '../store/errors.ts';
import { usePackRows } from '../rank/dense-scan.ts';
import { PostingChecks } from '../store/posting-checks.ts';
import type { DocRecord, MetaRecord, SegmentRecord, Store } from '../store/types.ts';
import { LiveIndex } from './live-index.ts';
import { Ranker } from './ranker.ts';
import type { EncoderLike, OpenOptions } from './types.ts';

const DOC_CACHE = 512;
/** Whether a load has asked for dense-append-wasm.ts yet. */
let packKernelAsked = false;

export class IndexState {
  live: LiveIndex;
  ranker: Ranker;
  closed = false;
  /** Set when another tab forced the index closed (a newer schema version, or a delete). */
  closedReason: string | null = null;
  private readonly docCache = new Map<string, DocRecord>();
  /** The last load's deferred posting-list checks; null once a rebuild read its segments whole. */
  checks: PostingChecks | null = null;
  /** Settles when the idle checks finished (with the failure found, or null). */
  checked: Promise<Error | null> = Promise.resolve(null);

  constructor(
    readonly name: string,
    readonly store: Store,
    /** Swapped by head tuning (a tuned sparse head encodes queries from then on). */
    public encoder: EncoderLike | undefined,
    public meta: MetaRecord,
    readonly opts: OpenOptions,
  ) {
    this.live = new LiveIndex(this.liveOptions());
    this.ranker = new Ranker(this.live);
  }

  /** The analyzer the index's text was indexed with (queries are analysed the same way). */
  get analyzer(): AnalyzerOptions {
    return this.meta.analyzer ?? {};
  }

  /**
   * Throws when the index is closed, or when a deferred posting-list check found a damaged record (every use but
   * `clear()`, which passes `damagedOk`, then fails the same way).
   */
  check(damagedOk = false): void {
    if (this.closed) throw new M3ClosedError(this.closedReason ?? `index "${this.name}" is closed`);
    if (!damagedOk && this.checks?.failure) throw this.checks.failure;
  }

  /**
   * Reads every segment into a new LiveIndex. Their posting lists' structure is checked when a query first reads
   * them and in idle slices after (posting-checks.ts): walking every list was most of a cold open.
   */
  async loadAll(): Promise<void> {
    // The dense rows' packing kernel loads beside the read (a JS loop appends them if it is not there yet).
    if (!packKernelAsked) {
      packKernelAsked = true;
      import('../rank/dense-append-wasm.ts').then(
        (m) => usePackRows(m.instantiatePackRows),
        () => {},
      );
    }
    const checks = new PostingChecks();
    const segs = this.meta.segments.length ? await this.store.readSegments(this.meta.segments, { deferChecks: checks }) : [];
    this.rebuild(sortByKeys(segs));
    this.checks = checks;
    // The idle checks start after the first answer: before it, they would only compete with it. (Until then no
    // list is read unchecked: a query checks what it reads.)
    this.checked = new Promise((done) => {
      this.startChecks = () => {
        this.startChecks = () => {};
        void checks.background().then(done);
      };
    });
  }

  /** Starts the idle checks now if they are waiting (a search answered). */
  startChecks: () => void = () => {};

  /** Stops the idle checks (the index closed). */
  stopChecks(): void {
    this.checks?.stop();
    this.startChecks();
  }

  /** From segments read whole (checked): the deferred checks of an earlier load no longer apply. */
  rebuild(segs: SegmentRecord[]): void {
    this.stopChecks();
    this.checks = null;
    this.live = LiveIndex.build(segs, this.meta.tombstones, this.liveOptions());
    this.ranker = new Ranker(this.live);
    this.docCache.clear();
  }

  async doc(id: string): Promise<DocRecord | undefined> {
    return (await this.docs([id]))[0];
  }

  /** Several documents (a page of hits): those not cached read in one store call, so in one transaction. */
  async docs(ids: string[]): Promise<(DocRecord | undefined)[]> {
    const missing = [...new Set(ids.filter((id) => !this.docCache.has(id)))];
    const got = missing.length ? await this.store.getDocs(missing) : [];
    const read = new Map(missing.map((id, i) => [id, got[i]]));
    for (const [id, d] of read) {
      if (!d) continue;
      if (this.docCache.size >= DOC_CACHE) this.docCache.delete(this.docCache.keys().next().value!);
      this.docCache.set(id, d);
    }
    return ids.map((id) => this.docCache.get(id) ?? read.get(id));
  }

  forgetDocs(ids?: Iterable<string>): void {
    if (!ids) {
      this.docCache.clear();
      return;
    }
    for (const id of ids) this.docCache.delete(id);
  }

  private liveOptions() {
    return { dims: this.meta.dims, bm25: this.opts.bm25 !== false, analyzer: this.analyzer };
  }
}

/** Segments ordered by their first key: rows then run in key order, which BM25's merge relies on. */
export function sortByKeys(segs: SegmentRecord[]): SegmentRecord[] {
  return [...segs].sort((a, b) => (a.keys[0] ?? 0) - (b.keys[0] ?? 0) || a.seq - b.seq);
}
