/**
 * The IndexedDB side of the schema fixtures (scripts/fixtures/make-schema*-index.ts write idb.v8): loading their
 * records into a fake-indexeddb database laid out as their IndexedDB version had it, and reading it back raw.
 */
import type { IDBFactory } from 'fake-indexeddb';
import { type IDBPDatabase, openDB } from 'idb';
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';

/** What an idb.v8 fixture holds: the database's version and its records. */
export interface IdbFixture<Seg = { seq: number; checksum?: number }> {
  version: number;
  meta: object;
  segments: Seg[];
  texts: object[];
}

export function readIdbFixture<Seg = { seq: number; checksum?: number }>(path: string): IdbFixture<Seg> {
  return deserialize(readFileSync(path)) as IdbFixture<Seg>;
}

/** Runs fn with `factory` as the global indexedDB (what `idb`'s openDB uses), restoring the previous one after. */
async function withFactory<T>(factory: IDBFactory, fn: () => Promise<T>): Promise<T> {
  const g = globalThis as { indexedDB: IDBFactory };
  const prev = g.indexedDB;
  g.indexedDB = factory;
  try {
    return await fn();
  } finally {
    g.indexedDB = prev;
  }
}

/**
 * Writes the fixture's records into `m3-search:<name>` of `factory` at the fixture's version (meta, segments,
 * texts stores); `edit` may change a copy of each segment record first (damage).
 */
export function loadIdbFixture<Seg extends object>(factory: IDBFactory, name: string, f: IdbFixture<Seg>, edit?: (seg: Seg) => void): Promise<void> {
  return withFactory(factory, async () => {
    const db = await openDB(`m3-search:${name}`, f.version, {
      upgrade(d) {
        d.createObjectStore('meta');
        d.createObjectStore('segments', { keyPath: 'seq' });
        d.createObjectStore('texts', { keyPath: ['seq', 'g'] });
      },
    });
    await db.put('meta', f.meta, 'meta');
    for (const s of f.segments) {
      const seg = edit ? structuredClone(s) : s;
      edit?.(seg);
      await db.put('segments', seg);
    }
    for (const t of f.texts) await db.put('texts', t);
    db.close();
  });
}

/** Opens `m3-search:<name>` of `factory` as it is (no upgrade), runs fn on it and closes it. */
export function withRawDb<T>(factory: IDBFactory, name: string, fn: (db: IDBPDatabase) => Promise<T>): Promise<T> {
  return withFactory(factory, async () => {
    const db = await openDB(`m3-search:${name}`);
    try {
      return await fn(db);
    } finally {
      db.close();
    }
  });
}
