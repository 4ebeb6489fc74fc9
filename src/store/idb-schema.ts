/**
 * The IndexedDB database of one index: its object stores, its version and the migrations that bring an
 * older database up to it, run inside the versionchange transaction. One database per index, named
 * `m3-search:<name>`, with object stores:
 *   meta      'meta' → MetaRecord (tombstones and the segment list live here, so a commit that adds a
 *             segment or deletes documents updates them in the same transaction)
 *   segments  seq → SegmentRecord (typed arrays, structured-cloned)
 *   texts     [seq, group] → TextBlock: the texts (and chunk spans) of TEXT_GROUP consecutive documents of
 *             one segment in one record, coded with a text model or raw-deflated (idb-text-groups.ts);
 *             [MODEL_SEQ, id] → the text models
 *   legacy    id → LegacyDoc (only while a v1 database is being migrated)
 *
 * IndexedDB versions: 1 = v1 layout (vectors inline in docs), 2 = segments + docs (id → DocRecord),
 * 3 = segments + texts, 4 = segment records carry a checksum (schema 3), verified with the record's
 * structure whenever a segment is read: a damaged record is refused by name, never searched;
 * 5 = postings gap + varint coded (schema 4, store/postings.ts), 6 = BM25 blocks may hold term positions
 * (schema 5), 7 = BM25 terms front-coded (schema 6), 8 = text groups may be coded with a text model (`c`, `m`,
 * `n`; models are records [MODEL_SEQ, id] of `texts`, idb-text-groups.ts; segments unchanged); older records are read as they are, so those upgrades only
 * stamp the meta record (and keep an older m3-search, which would misread the new blocks, from opening it).
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import { TEXT_GROUP, type TextBlock, type TextEntry } from './idb-text-groups.ts';
import type { LegacyDoc, V1Meta } from './legacy.ts';
import { freshMeta } from './fresh-meta.ts';
import { compactPostings, type LegacySegment } from './legacy-postings.ts';
import { legacySegmentChecksum, segmentChecksum, segmentProblem } from './segment-check.ts';
import { SCHEMA_VERSION, type DocRecord, type MetaRecord, type SegmentRecord } from './types.ts';

export interface M3DB extends DBSchema {
  meta: { key: string; value: MetaRecord };
  /** v2 only: read by the v1 and v2 migrations, then dropped. */
  docs: { key: string; value: DocRecord };
  segments: { key: number; value: SegmentRecord };
  texts: { key: [number, number]; value: TextBlock };
  legacy: { key: string; value: LegacyDoc };
}

type UpgradeTx = IDBPTransaction<M3DB, StoreNames<M3DB>[], 'versionchange'>;

export const META_KEY = 'meta';
export const IDB_VERSION = 8;

/** Schema migrations, run inside the versionchange transaction. */
export function upgrade(db: IDBPDatabase<M3DB>, oldVersion: number, tx: UpgradeTx): Promise<void> | void {
  if (oldVersion < 1) db.createObjectStore('meta');
  if (oldVersion < 2) db.createObjectStore('segments', { keyPath: 'seq' });
  if (oldVersion < 3) db.createObjectStore('texts', { keyPath: ['seq', 'g'] });
  if (oldVersion === 0) return;
  // The migrations await requests of the versionchange transaction only, so it stays open throughout.
  return (async () => {
    if (oldVersion === 1) await migrateV1(db, tx);
    if (oldVersion === 2) await migrateV2(tx);
    if (oldVersion < 3) db.deleteObjectStore('docs');
    if (oldVersion < 5) await upgradeSegments(tx);
    else await stampSchema(tx);
  })();
}

/**
 * IndexedDB < 5 (schema 2 or 3 → 4): each segment record's postings are re-coded (postings.ts) and the
 * record sealed with its checksum, once its old checksum (schema 3) and its structure check out: a damaged
 * record is neither converted nor sealed as good, so reading it later fails with an error that names it.
 */
async function upgradeSegments(tx: UpgradeTx): Promise<void> {
  const segs = tx.objectStore('segments');
  const meta = await tx.objectStore('meta').get(META_KEY);
  let cursor = await segs.openCursor();
  while (cursor) {
    const old = cursor.value as unknown as LegacySegment;
    if (old.checksum === undefined || intact(old)) {
      const seg = compactPostings(old);
      if (!segmentProblem(seg, meta?.dims || undefined)) await cursor.update({ ...seg, checksum: segmentChecksum(seg) });
    }
    cursor = await cursor.continue();
  }
  if (meta) await tx.objectStore('meta').put({ ...meta, schemaVersion: SCHEMA_VERSION }, META_KEY);
}

/** IndexedDB 5, 6 or 7 → 8 (schema 4 or 5 → 6; texts of <= 7 read as they are): the segments stay as they are; the meta record says the new schema. */
async function stampSchema(tx: UpgradeTx): Promise<void> {
  const meta = await tx.objectStore('meta').get(META_KEY);
  if (meta) await tx.objectStore('meta').put({ ...meta, schemaVersion: SCHEMA_VERSION }, META_KEY);
}

/**
 * v2 → v3: per-document records in `docs` become one text block per segment. Written uncompressed
 * (CompressionStream is async, and awaiting it would let the versionchange transaction commit); a later
 * compaction rewrites them compressed. Rows whose document was deleted get null.
 */
async function migrateV2(tx: UpgradeTx): Promise<void> {
  const segs = await tx.objectStore('segments').getAll();
  const docs = new Map((await tx.objectStore('docs').getAll()).map((d) => [d.id, d]));
  for (const seg of segs) {
    const entries: TextEntry[] = seg.ids.map((id, i) => {
      const d = docs.get(id);
      if (!d || d.key !== seg.keys[i]) return null;
      return d.chunks ? [d.text, d.chunks.spans] : [d.text];
    });
    for (let g = 0; g * TEXT_GROUP < entries.length; g++) {
      await tx.objectStore('texts').put({ seq: seg.seq, g, docs: entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP) });
    }
  }
}

/**
 * v1 → v2: v1 kept vectors inline in `docs`. Move those records to `legacy` (the index re-ingests them
 * as segments after open) and write a v2 meta that remembers the v1 model id and dims. The head hash and
 * dtype were not recorded in v1: they are left empty and adopted from the encoder on first open.
 */
async function migrateV1(db: IDBPDatabase<M3DB>, tx: UpgradeTx): Promise<void> {
  db.createObjectStore('legacy', { keyPath: 'id' });
  const old = (await tx.objectStore('meta').get(META_KEY)) as unknown as V1Meta | undefined;
  let cursor = await tx.objectStore('docs').openCursor();
  while (cursor) {
    await tx.objectStore('legacy').put(cursor.value as unknown as LegacyDoc);
    cursor = await cursor.continue();
  }
  await tx.objectStore('docs').clear();
  const id = { modelId: old?.modelId ?? '', dims: old?.dims ?? 0, headHash: '', dtype: '' };
  const meta = freshMeta(id, false, {}, 2); // schema 2: the later steps of upgrade() take it on
  await tx.objectStore('meta').put(meta, META_KEY);
}

/** A schema 3 record whose checksum still matches its content. */
function intact(seg: LegacySegment): boolean {
  try {
    return legacySegmentChecksum(seg) === seg.checksum;
  } catch {
    return false; // fields missing: not what schema 3 wrote
  }
}
