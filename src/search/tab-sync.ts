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
    if (gone.size) {
      // Another tab merged segments (the same rows in one: swapped in place); anything else rebuilds.
      const { applyMerges } = await import('./live-merge.ts');
      if (!applyMerges(state.live, gone, added)) return state.loadAll();
    } else for (const seg of added) state.live.appendSegment(seg);
    for (const k of m.tombstones) if (state.live.alive[k]) state.live.kill(k);
    state.forgetDocs();
  }
}
