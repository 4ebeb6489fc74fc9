/**
 * IdbStore's write transactions. Each is one transaction, all or nothing; the text blocks it puts are built
 * and compressed before it opens (a transaction with nothing queued auto-commits across an await).
 */
import type { IDBPDatabase, StoreNames } from 'idb';
import { type M3DB, META_KEY } from './idb-schema.ts';
import type { TextBlock } from './idb-text-groups.ts';
import { segmentChecksum } from './segment-check.ts';
import { type CommitBatch, type MetaRecord, SCHEMA_VERSION, type SegmentRecord } from './types.ts';

/** A commit: segments deleted and put (sealed with their checksums), their text blocks, the meta last. */
export async function writeCommit(db: IDBPDatabase<M3DB>, batch: CommitBatch, blocks: TextBlock[], onQueued?: () => void): Promise<void> {
  const names: StoreNames<M3DB>[] = ['meta', 'texts', 'segments'];
  if (batch.deleteLegacyIds?.length) names.push('legacy');
  const tx = db.transaction(names, 'readwrite', { durability: 'strict' });
  // Queue every request without awaiting between them; tx.done settles once all have run (or one failed
  // and the whole transaction aborted).
  const reqs: Promise<unknown>[] = [];
  try {
    for (const seq of batch.deleteSegments ?? [])
      reqs.push(tx.objectStore('segments').delete(seq), tx.objectStore('texts').delete(IDBKeyRange.bound([seq, 0], [seq, Infinity])));
    for (const seg of batch.segments ?? []) reqs.push(tx.objectStore('segments').put({ ...seg, checksum: segmentChecksum(seg) }));
    for (const b of blocks) reqs.push(tx.objectStore('texts').put(b));
    // deleteDocIds: a removed document's text stays in its block, hidden by the tombstone, until
    // compaction rewrites the segment.
    for (const id of batch.deleteLegacyIds ?? []) reqs.push(tx.objectStore('legacy').delete(id));
    reqs.push(tx.objectStore('meta').put(batch.meta, META_KEY));
  } catch (e) {
    // put() throws synchronously (DataCloneError, …) without aborting: the requests queued so far
    // would commit. Abort, so the batch is all or nothing.
    tx.abort();
    await tx.done.catch(() => {});
    throw e;
  } finally {
    for (const r of reqs) r.catch(() => {}); // a failure surfaces through tx.done
  }
  onQueued?.();
  await tx.done;
}

/** Every store cleared, the new segments, texts and meta (at the current schema) put. */
export async function writeReplace(db: IDBPDatabase<M3DB>, meta: MetaRecord, segments: SegmentRecord[], blocks: TextBlock[]): Promise<void> {
  const sealed = segments.map((seg) => ({ ...seg, checksum: segmentChecksum(seg) }));
  const names = storeNames(db);
  const tx = db.transaction(names, 'readwrite', { durability: 'strict' });
  const reqs: Promise<unknown>[] = [];
  try {
    for (const n of names) reqs.push(tx.objectStore(n).clear());
    for (const seg of sealed) reqs.push(tx.objectStore('segments').put(seg));
    for (const b of blocks) reqs.push(tx.objectStore('texts').put(b));
    reqs.push(tx.objectStore('meta').put({ ...meta, schemaVersion: SCHEMA_VERSION }, META_KEY));
  } catch (e) {
    tx.abort();
    await tx.done.catch(() => {});
    throw e;
  } finally {
    for (const r of reqs) r.catch(() => {});
  }
  await tx.done;
}

/** Every store cleared, then `meta` put if given. */
export async function writeReset(db: IDBPDatabase<M3DB>, meta: MetaRecord | null): Promise<void> {
  const names = storeNames(db);
  const tx = db.transaction(names, 'readwrite');
  const reqs: Promise<unknown>[] = names.map((n) => tx.objectStore(n).clear());
  if (meta) reqs.push(tx.objectStore('meta').put(meta, META_KEY));
  for (const r of reqs) r.catch(() => {});
  await tx.done;
}

/** The stores a replace or reset clears: `legacy` only where a v1 migration left it. */
function storeNames(db: IDBPDatabase<M3DB>): StoreNames<M3DB>[] {
  const names: StoreNames<M3DB>[] = ['meta', 'texts', 'segments'];
  if (db.objectStoreNames.contains('legacy')) names.push('legacy');
  return names;
}
