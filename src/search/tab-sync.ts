/**
 * Keeps an open index up to date with what other tabs or processes commit: segments they added are
 * appended, their deletes applied, their merges swapped in, and a compaction or clear elsewhere rebuilds from the store.
 */
import type { MetaRecord } from '../store/types.ts';
import { type IndexState, sortByKeys } from './index-state.ts';

export class TabSync {
  private syncing: Promise<void> | null = null;
  private unsubscribe: () => void = () => {};

  constructor(private readonly state: IndexState) {}

  /** Listens for other tabs: their commits are loaded, an upgrade or delete closes this index. */
  start(): void {
    const { state } = this;
    state.store.onVersionChange(() => {
      state.closed = true;
      state.closedReason = 'another tab upgraded or deleted this index; reopen it';
    });
    this.unsubscribe = state.store.onRemoteCommit(() => void this.refresh().catch(() => {}));
  }

  stop(): void {
    this.unsubscribe();
  }

  /** Loads segments and deletes committed elsewhere since the last look (one read at a time). */
  refresh(): Promise<void> {
    if (this.state.closed) return Promise.resolve();
    this.syncing ??= (async () => {
      try {
        await this.underLock();
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /** Brings memory up to the store's meta. Writers call it under the write lock, before they write. */
  async underLock(): Promise<void> {
    const m = await this.state.store.readMeta();
    if (m) await this.syncTo(m);
  }

  private async syncTo(m: MetaRecord): Promise<void> {
    const { state } = this;
    const mine = state.meta;
    if (m.updatedAt === mine.updatedAt && m.nextSeq === mine.nextSeq && m.tombstones.length === mine.tombstones.length) return;
    const have = new Set(mine.segments);
    const gone = new Set(mine.segments.filter((s) => !m.segments.includes(s)));
    state.meta = m;
    const added = sortByKeys(await state.store.readSegments(m.segments.filter((s) => !have.has(s))));
    // Another tab merged segments (index-writer.ts merge: the same rows in one segment): swapped in place.
    // Anything else that removed segments (compaction, clear) rebuilds.
    const { live } = state;
    let maxKey = -1;
    for (const s of live.segments) if (s.keys.length) maxKey = Math.max(maxKey, s.keys[s.keys.length - 1]);
    for (const seg of added) {
      const at = gone.size ? live.segments.findIndex((s) => gone.has(s.seq) && s.keys[0] === seg.keys[0]) : -1;
      if (at >= 0) {
        const run: number[] = [];
        for (let i = at, docs = 0; i < live.segments.length && gone.has(live.segments[i].seq) && docs < seg.keys.length; i++) {
          run.push(live.segments[i].seq);
          docs += live.segments[i].keys.length;
        }
        if (!live.replaceSegments(run, seg)) return state.loadAll();
        for (const s of run) gone.delete(s);
      } else if (!seg.keys.length || seg.keys[0] > maxKey) live.appendSegment(seg);
      else return state.loadAll();
    }
    if (gone.size) return state.loadAll(); // compacted or cleared elsewhere: rebuild
    for (const k of m.tombstones) if (state.live.alive[k]) state.live.kill(k);
    state.forgetDocs();
  }
}
