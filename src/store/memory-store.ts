/**
 * In-memory Store (tests, throwaway indexes). Commits clone their input, so the stored state can't be
 * mutated through references the caller keeps — the same isolation IndexedDB gives.
 */
import { M3ClosedError } from './errors.ts';
import type { LegacyDoc } from './legacy.ts';
import type { CommitBatch, DocRecord, HeadBlob, MetaRecord, SegmentRecord, StorageInfo, Store } from './types.ts';

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private meta: MetaRecord | null = null;
  private readonly segments = new Map<number, SegmentRecord>();
  private readonly docs = new Map<string, DocRecord>();
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  async open(): Promise<MetaRecord | null> {
    this.closed = false;
    return this.meta && structuredClone(this.meta);
  }
  async readMeta(): Promise<MetaRecord | null> {
    this.check();
    return this.meta && structuredClone(this.meta);
  }
  async readSegments(only?: number[]): Promise<SegmentRecord[]> {
    this.check();
    const seqs = only ?? [...this.segments.keys()].sort((a, b) => a - b);
    return seqs.map((s) => this.segments.get(s)).filter((s): s is SegmentRecord => !!s);
  }
  async getDoc(id: string): Promise<DocRecord | undefined> {
    this.check();
    const d = this.docs.get(id);
    return d && structuredClone(d);
  }
  async getDocs(ids: string[]): Promise<(DocRecord | undefined)[]> {
    return Promise.all(ids.map((id) => this.getDoc(id)));
  }
  async allDocs(): Promise<DocRecord[]> {
    this.check();
    return [...this.docs.values()].map((d) => structuredClone(d));
  }
  async legacyDocs(): Promise<LegacyDoc[]> {
    return [];
  }
  async commit(batch: CommitBatch): Promise<void> {
    this.check();
    const b = structuredClone(batch); // clone first: a failing clone leaves the state untouched
    for (const seq of b.deleteSegments ?? []) this.segments.delete(seq);
    for (const seg of b.segments ?? []) this.segments.set(seg.seq, seg);
    for (const id of b.deleteDocIds ?? []) this.docs.delete(id);
    for (const d of b.putDocs ?? []) this.docs.set(d.id, d);
    this.meta = b.meta;
  }
  async replace(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[]): Promise<void> {
    this.check();
    const b = structuredClone({ meta, segments, docs }); // clone first: a failing clone changes nothing
    this.segments.clear();
    this.docs.clear();
    for (const seg of b.segments) this.segments.set(seg.seq, seg);
    for (const d of b.docs) this.docs.set(d.id, d);
    this.meta = b.meta;
  }
  async reset(meta: MetaRecord | null): Promise<void> {
    this.check();
    this.segments.clear();
    this.docs.clear();
    this.meta = meta && structuredClone(meta);
  }
  async storage(): Promise<StorageInfo> {
    return { usage: null, quota: null, persisted: null };
  }
  withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }
  onRemoteCommit(): () => void {
    return () => {};
  }
  onVersionChange(): void {}
  private readonly heads = new Map<number, HeadBlob>();
  async readHeads(): Promise<HeadBlob[]> {
    return [...this.heads.values()].sort((a, b) => a.version - b.version).map((h) => structuredClone(h));
  }
  async writeHead(head: HeadBlob): Promise<void> {
    this.heads.set(head.version, structuredClone(head));
  }
  close(): void {
    this.closed = true;
  }
  private check(): void {
    if (this.closed) throw new M3ClosedError('store is closed');
  }
}
