/**
 * Remembers a WebGPU verification verdict per (model, device, dtype, adapter, runtime version) so a page load
 * does not pay the probe every time. IndexedDB (not localStorage) so it also works inside a worker.
 */
import { openDB } from 'idb';
import type { Verdict } from './verify.ts';

const DB = 'm3-search-device';
const STORE = 'verdicts';

function open() {
  return openDB(DB, 1, {
    upgrade(db) {
      db.createObjectStore(STORE);
    },
  });
}

export async function readVerdict(key: string): Promise<Verdict | undefined> {
  if (typeof indexedDB === 'undefined') return undefined;
  try {
    const db = await open();
    const v = await db.get(STORE, key);
    db.close();
    return v as Verdict | undefined;
  } catch {
    return undefined; // a cache miss costs one probe, never a failure
  }
}

export async function writeVerdict(key: string, verdict: Verdict): Promise<void> {
  if (typeof indexedDB === 'undefined') return;
  try {
    const db = await open();
    await db.put(STORE, verdict, key);
    db.close();
  } catch {
    /* best effort */
  }
}
