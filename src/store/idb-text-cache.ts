/**
 * Decoded text groups (idb-text-groups.ts) of one IdbStore connection, kept in memory so a page of hits
 * reads and inflates each group once.
 */
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import type { M3DB } from './idb-schema.ts';
import { inflateEntries, type TextEntry } from './idb-text-groups.ts';

/** Decoded text groups kept in memory (a page of hits touches at most k of them). */
const BLOCK_CACHE = 64;

export class TextGroupCache {
  private blocks = new Map<string, Promise<TextEntry[]>>();

  constructor(private readonly database: () => IDBPDatabase<M3DB>) {}

  block(seq: number, g: number): Promise<TextEntry[]> {
    return this.blocksOf([[seq, g]]).get(`${seq}:${g}`)!;
  }

  /**
   * The text groups `pairs` ([seq, group]) name, each read and inflated once, those not cached in one
   * transaction. A phrase check can ask for tens of thousands of documents at once, far more than the
   * cache holds: asking per document re-read and re-inflated a group for every one of its 32 documents.
   */
  blocksOf(pairs: Iterable<[number, number]>): Map<string, Promise<TextEntry[]>> {
    const out = new Map<string, Promise<TextEntry[]>>();
    let tx: IDBPTransaction<M3DB, ['texts'], 'readonly'> | undefined;
    for (const [seq, g] of pairs) {
      const id = `${seq}:${g}`;
      if (out.has(id)) continue;
      let p = this.blocks.get(id);
      if (!p) {
        tx ??= this.database().transaction(['texts'], 'readonly');
        p = tx.store.get([seq, g]).then((b) => (!b ? [] : (b.docs ?? inflateEntries(b.z!))));
        p.catch(() => this.blocks.delete(id));
        if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
        this.blocks.set(id, p);
      }
      out.set(id, p);
    }
    tx?.done.catch(() => {}); // a failed read rejects its own promise; this only keeps the abort from going unhandled
    return out;
  }

  clear(): void {
    this.blocks.clear();
  }
}
