/**
 * Runs `fn` (a call of idb's openDB or deleteDB) against `factory` instead of the global indexedDB: idb
 * always uses the global, while callers may inject a factory (tests, another realm's IndexedDB).
 */
export async function withFactory<T>(factory: IDBFactory, fn: () => Promise<T>): Promise<T> {
  const g = globalThis as { indexedDB?: IDBFactory };
  if (g.indexedDB === factory) return fn();
  // openDB calls indexedDB.open synchronously, so the global only needs swapping for that call.
  const prev = g.indexedDB;
  g.indexedDB = factory;
  let p: Promise<T>;
  try {
    p = fn();
  } finally {
    g.indexedDB = prev;
  }
  return p;
}
