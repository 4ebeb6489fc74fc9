/**
 * Tuned heads of an IdbStore. They live in a database of their own (`<dbName>#heads`): the index's schema
 * stays as it is, and reset() (clear, re-embed) leaves them alone. The meta record in the main database
 * points at one.
 */
import { type IDBPDatabase, openDB } from 'idb';
import { withFactory } from './idb-factory.ts';
import type { HeadBlob } from './types.ts';

async function headsDb<T>(factory: IDBFactory, dbName: string, fn: (db: IDBPDatabase) => Promise<T>): Promise<T> {
  const db = await withFactory(factory, () => openDB(`${dbName}#heads`, 1, { upgrade: (d) => void d.createObjectStore('heads', { keyPath: 'version' }) }));
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

export function readHeads(factory: IDBFactory, dbName: string): Promise<HeadBlob[]> {
  return headsDb(factory, dbName, (db) => db.getAll('heads') as Promise<HeadBlob[]>);
}

export async function writeHead(factory: IDBFactory, dbName: string, head: HeadBlob): Promise<void> {
  await headsDb(factory, dbName, (db) => db.put('heads', head));
}
