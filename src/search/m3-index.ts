/**
 * M3Index: a persistent BGE-M3 index (dense + learned-sparse + optional ColBERT + BM25) over a Store,
 * answering searches from in-memory structures built once on open.
 *
 * This class is the public front; each job lives in its own module:
 *   index-identity.ts   what the index was built with, checked on open (onMismatch)
 *   index-state.ts      the store, meta, LiveIndex, ranker and encoder one open index works on
 *   index-writer.ts     add/upsert/remove/clear/compact, migration, re-embed
 *   compaction-plan.ts  when to compact and which segments merge (pure)
 *   index-search.ts     a search (search-options.ts checks its options)
 *   tab-sync.ts         other tabs' and processes' commits
 *   tuning-access.ts    what head tuning (src/tune) may reach, off the public class
 */
import type { MergePolicy } from './merge-policy.ts';
import { M3InputError } from '../errors.ts';
import type { StaticLoadOptions } from '../static/loader.ts';
import type { StorageInfo, Store } from '../store/types.ts';
import { checkId } from './doc-checks.ts';
import { identity } from '../store/fresh-meta.ts';
import { defaultStore, planOpen } from './index-identity.ts';
import { encoderWithStoredHead } from '../tune/head-store.ts';
import { searchIndex } from './index-search.ts';
import { IndexState } from './index-state.ts';
import type { IndexWriter } from './index-writer.ts';
import type { ColbertBits, ModelIdentity } from '../store/types.ts';
import { TabSync } from './tab-sync.ts';
import { registerTuning } from './tuning-access.ts';
import type { Hit, IndexDoc, IngestOptions, OpenOptions, SearchOptions, SearchQuery } from './types.ts';

export interface IndexInfo extends ModelIdentity {
  name: string;
  colbert: boolean;
  /** Bits per dimension ColBERT vectors are written with (8 = int8; OpenOptions.colbertBits). */
  colbertBits: ColbertBits;
  /** Whether dense rows are written with residuals (OpenOptions.denseRefine). */
  denseRefine: boolean;
  count: number;
  segments: number;
  tombstones: number;
  store: Store['kind'];
}

export class M3Index {
  private readonly sync: TabSync;
  private writing: Promise<IndexWriter> | null = null;

  private constructor(private readonly state: IndexState) {
    this.sync = new TabSync(state);
    const writer = () => this.writer();
    registerTuning(this, {
      get store() {
        return state.store;
      },
      get encoder() {
        return state.encoder;
      },
      get baseEncoder() {
        return state.opts.encoder;
      },
      get meta() {
        return state.meta;
      },
      sparsePostings: () => state.live.sparseSegments.reduce((n, s) => n + (s.sparse?.entries ?? 0), 0),
      rewriteSparse: async (encoder, head, sparseOf) => (await writer()).rewriteSparse(encoder, head, sparseOf),
    });
  }

  /** The writer, imported on the first write: a page that only opens and searches never loads it (size budget). */
  private writer(): Promise<IndexWriter> {
    this.writing ??= import('./index-writer.ts').then(({ IndexWriter }) => new IndexWriter(this.state, this.sync));
    return this.writing;
  }

  /**
   * Opens (or creates) the index `name`: checks the stored model identity and analyzer against `opts`
   * (onMismatch), loads every segment into memory and follows other tabs' commits from then on.
   *
   *   const index = await M3Index.open('docs', { encoder: await M3Encoder.load() });
   */
  static async open(name: string, opts: OpenOptions = {}): Promise<M3Index> {
    const store = opts.store ?? defaultStore(name);
    const stored = await store.open();
    const { meta, reembed } = await planOpen(store, stored, opts);
    // Sparse postings made by a tuned head (issue 5): queries must be encoded by that head too.
    const encoder = !reembed && meta.sparseHead && opts.encoder ? await encoderWithStoredHead(store, meta.sparseHead, opts.encoder) : opts.encoder;
    const index = new M3Index(new IndexState(name, store, encoder, meta, opts));
    await index.state.loadAll();
    index.sync.start();
    // A v1 store's documents move into segments now (IdbStore answers [] without a transaction when there are none).
    if ((await store.legacyDocs(1)).length) await (await index.writer()).migrateLegacy();
    if (reembed) await (await index.writer()).reembed(reembed);
    return index;
  }

  /**
   * Loads a static index package (`m3-search index … --static OUT`) into IndexedDB, verified and swapped in
   * atomically, and opens it; offline, opens the installed version. See src/static/loader.ts.
   */
  static async fromStatic(url: string | URL, opts: StaticLoadOptions = {}): Promise<M3Index> {
    // Imported on demand: pages that never load packages don't bundle the loader.
    const { openStaticPackage } = await import('../static/loader.ts');
    return openStaticPackage(url, opts, (name, o) => M3Index.open(name, o));
  }

  get name(): string {
    return this.state.name;
  }

  /** Set when another tab forced this instance closed (a newer schema version, or a delete). */
  get closedReason(): string | null {
    return this.state.closedReason;
  }

  // ---------------------------------------------------------------- reading

  get info(): IndexInfo {
    const { meta, live, store } = this.state;
    return {
      name: this.name,
      ...identity(meta),
      colbert: meta.colbert,
      colbertBits: meta.colbertBits ?? 8,
      denseRefine: meta.denseRefine === true,
      count: live.liveDocs,
      segments: meta.segments.length,
      tombstones: meta.tombstones.length,
      store: store.kind,
    };
  }

  /** Live documents. */
  count(): number {
    this.state.check();
    return this.state.live.liveDocs;
  }

  has(id: string): boolean {
    return this.state.live.idToKey.has(id);
  }

  /** The stored document (text and metadata), or undefined. */
  async get(id: string): Promise<{ id: string; text: string; metadata?: Record<string, unknown> } | undefined> {
    this.state.check();
    checkId(id);
    if (!this.state.live.idToKey.has(id)) return undefined;
    const d = await this.state.doc(id);
    return d && { id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) };
  }

  async storage(): Promise<StorageInfo> {
    return this.state.store.storage();
  }

  /** Loads segments and deletes committed by another tab or process since the last look. */
  refresh(): Promise<void> {
    return this.sync.refresh();
  }

  /**
   * Ranks the documents for a query (text in the query syntax, or { text, embedding }).
   *
   *   const hits = await index.search('+boundary layer -laminar', { k: 5, mode: 'hybrid', explain: true });
   */
  search(query: SearchQuery, options: SearchOptions = {}): Promise<Hit[]> {
    const answer = searchIndex(this.state, query, options);
    answer.then(this.state.startChecks, this.state.startChecks); // the open's idle checks follow the first answer
    return answer;
  }

  // ---------------------------------------------------------------- writing

  /** Adds new documents; an id that already exists is an error (nothing is written). */
  add(docs: IndexDoc[], opts: IngestOptions = {}): Promise<{ added: number }> {
    return this.writer().then((w) => w.ingest(docs, opts, false).then((n) => ({ added: n })));
  }

  /** Adds or replaces documents by id. */
  upsert(docs: IndexDoc[], opts: IngestOptions = {}): Promise<{ upserted: number }> {
    return this.writer().then((w) => w.ingest(docs, opts, true).then((n) => ({ upserted: n })));
  }

  /** Removes documents by id; unknown ids are ignored. Returns how many were removed. */
  async remove(ids: string[]): Promise<number> {
    this.state.check();
    if (!Array.isArray(ids)) throw new M3InputError('ids must be an array');
    ids.forEach(checkId);
    return (await this.writer()).remove(ids);
  }

  /** Removes every document (one transaction); the model identity stays. */
  async clear(): Promise<void> {
    this.state.check(true); // the way out of a damaged index
    await (await this.writer()).clear();
  }

  /**
   * Rewrites segments that hold tombstones (merging small neighbours, up to 16k docs per segment)
   * in one transaction. Runs by itself when tombstones pass `compactThreshold` of the stored docs.
   */
  async compact(): Promise<void> {
    this.state.check();
    await (await this.writer()).compact();
  }

  /**
   * Runs the tiered segment merges now (OpenOptions.merge); `policy` applies to this call only, e.g. once after
   * a bulk load into an index opened with `merge: false`. add and upsert merge by themselves. Returns how many ran.
   */
  async merge(policy?: MergePolicy): Promise<number> {
    this.state.check();
    return (await this.writer()).merge(policy);
  }

  close(): void {
    if (this.state.closed) return;
    this.state.closed = true;
    this.state.stopChecks();
    this.sync.stop();
    this.state.store.close();
  }
}
