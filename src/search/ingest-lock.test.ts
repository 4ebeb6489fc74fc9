/**
 * Ingest builds each batch's segment outside the store's write lock (the lock only assigns keys and
 * commits), so a writer holds the lock for the commit alone and other tabs/processes wait less.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';

/** Events in order: each built segment's rowDoc array → the event number when it was built. */
let clock = 0;
const builtAt = new Map<Uint32Array, number>();
vi.mock('../store/segment-builder.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../store/segment-builder.ts')>();
  return {
    ...orig,
    buildSegment: (...args: Parameters<typeof orig.buildSegment>) => {
      const seg = orig.buildSegment(...args);
      builtAt.set(seg.rowDoc, clock++);
      return seg;
    },
  };
});

const { M3Index } = await import('./m3-index.ts');

/** Checks that every committed segment was built before the lock it is committed under was taken. */
class LockWatchingStore extends MemoryStore {
  private lockedAt = -1;
  readonly builtInsideLock: number[] = [];
  override async withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    return super.withWriteLock(() => {
      this.lockedAt = clock++;
      return fn();
    });
  }
  override async commit(...args: Parameters<MemoryStore['commit']>): Promise<void> {
    for (const seg of args[0].segments ?? []) {
      const at = builtAt.get(seg.rowDoc);
      if (at === undefined || at > this.lockedAt) this.builtInsideLock.push(seg.seq);
    }
    return super.commit(...args);
  }
}

describe('ingest and the write lock', () => {
  it('builds segments outside the lock; two writers on one store still get distinct keys', async () => {
    const store = new LockWatchingStore();
    const enc = new FakeEncoder({ dims: 16 });
    // merge: false: this is about the batches' segments (merges are built outside the lock too: merge.test.ts).
    const a = await M3Index.open('x', { encoder: enc, store, merge: false });
    const b = await M3Index.open('x', { encoder: enc, store, merge: false });
    const docs = (p: string) => Array.from({ length: 25 }, (_, i) => ({ id: `${p}${i}`, text: `${p} document number ${i} about apples` }));
    await Promise.all([a.add(docs('a'), { batchSize: 4 }), b.add(docs('b'), { batchSize: 7 })]);
    expect(store.builtInsideLock).toEqual([]);
    await a.refresh();
    expect(a.count()).toBe(50);
    const segs = await store.readSegments();
    const keys = segs.flatMap((s) => Array.from(s.keys));
    expect(new Set(keys).size).toBe(50);
    expect(segs.map((s) => s.seq)).toEqual([...segs.keys()]);
    // Every document is searchable under its own id with its own text.
    for (const id of ['a0', 'a24', 'b3', 'b24']) {
      const hits = await a.search(`${id[0]} document number ${id.slice(1)}`, { k: 1, mode: 'bm25' });
      expect(hits[0]?.id).toBe(id);
      expect((await a.get(id))?.text).toContain(`number ${id.slice(1)} `);
    }
    a.close();
    b.close();
  });
});
