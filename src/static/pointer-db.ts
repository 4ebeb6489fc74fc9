/**
 * The small IndexedDB database beside a static index (`m3-search-static:<name>`): which version is current
 * (the pointer), and the chunk cache of a load in progress. Plus the index databases' existence and removal.
 */
import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { withFactory } from '../store/idb-factory.ts';

const POINTER_VERSION = 1;
const pointerDbName = (name: string) => `m3-search-static:${name}`;
export const indexDbName = (indexName: string) => `m3-search:${indexName}`;

export interface Pointer {
  version: string;
  indexName: string;
  installedAt: number;
  manifestUrl: string;
}

interface PointerDb extends DBSchema {
  state: { key: string; value: Pointer };
  /** Verified chunks of a load in progress, by SHA-256: a reload resumes from them. */
  chunks: { key: string; value: Uint8Array };
}

export function openPointerDb(factory: IDBFactory, name: string): Promise<IDBPDatabase<PointerDb>> {
  return withFactory(factory, () =>
    openDB<PointerDb>(pointerDbName(name), POINTER_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains('state')) db.createObjectStore('state');
        if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
      },
      // Another tab deletes or upgrades it: let go at once.
      blocking(_current, _next, event) {
        (event.target as IDBDatabase).close();
      },
    }),
  );
}

export async function getPointer(db: IDBPDatabase<PointerDb>): Promise<Pointer | undefined> {
  return db.get('state', 'current');
}

export async function putPointer(db: IDBPDatabase<PointerDb>, p: Pointer): Promise<void> {
  const tx = db.transaction('state', 'readwrite', { durability: 'strict' });
  await Promise.all([tx.store.put(p, 'current'), tx.done]);
}

export async function getCachedChunk(db: IDBPDatabase<PointerDb>, sha: string): Promise<Uint8Array | undefined> {
  return db.get('chunks', sha);
}

export async function putCachedChunk(db: IDBPDatabase<PointerDb>, sha: string, bytes: Uint8Array): Promise<void> {
  await db.put('chunks', bytes, sha);
}

/** The whole cache goes: chunks of abandoned versions are garbage once a version is installed. */
export async function clearChunkCache(db: IDBPDatabase<PointerDb>): Promise<void> {
  await db.clear('chunks');
}

/**
 * Whether a database exists, found by opening it and aborting the upgrade a missing one would need. Not by
 * `databases()`: after an unclean shutdown Chromium 156 was seen discarding an origin's IndexedDB when a
 * listing was the first call to it (e2e/index.spec.ts notes).
 */
export async function databaseExists(factory: IDBFactory, dbName: string): Promise<boolean> {
  let missing = false;
  try {
    const db = await withFactory(factory, () =>
      openDB(dbName, undefined, {
        upgrade(_db, oldVersion, _newVersion, tx) {
          if (oldVersion !== 0) return;
          missing = true;
          tx.abort(); // leaves no empty database behind
        },
      }),
    );
    db.close();
    return true;
  } catch (e) {
    if (missing) return false;
    throw e;
  }
}

export function deleteDatabase(factory: IDBFactory, dbName: string): Promise<void> {
  return withFactory(factory, () => deleteDB(dbName));
}

/** Databases of versions that never became current (a load killed mid-install) or were superseded. */
export async function removeStale(factory: IDBFactory, name: string, keep: (string | undefined)[]): Promise<void> {
  if (typeof factory.databases !== 'function') return;
  const prefix = indexDbName(`${name}@`);
  const keepNames = new Set(keep.filter(Boolean).map((k) => indexDbName(k!)));
  for (const d of await factory.databases()) {
    if (d.name?.startsWith(prefix) && !keepNames.has(d.name)) void deleteDatabase(factory, d.name).catch(() => {});
  }
}
