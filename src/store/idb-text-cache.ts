/**
 * Text groups (idb-text-groups.ts) of one IdbStore connection, kept in memory so a page of hits reads each
 * group once, and the preset dictionaries their records name (idb-text-dict.ts), read once per connection.
 */
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { DICT_SEQ } from './idb-text-dict.ts';
import type { M3DB } from './idb-schema.ts';
import { inflateEntries, type TextBlock, TextGroup } from './idb-text-groups.ts';

/** Text groups kept in memory (a page of hits touches at most k of them). */
const BLOCK_CACHE = 64;

type ReadTx = IDBPTransaction<M3DB, ['texts'], 'readonly'>;

export class TextGroupCache {
  private blocks = new Map<string, Promise<TextGroup | null>>();
  private dicts = new Map<number, Promise<Uint8Array>>();

  constructor(private readonly database: () => IDBPDatabase<M3DB>) {}

  block(seq: number, g: number): Promise<TextGroup | null> {
    return this.blocksOf([[seq, g]]).get(`${seq}:${g}`)!;
  }

  /**
   * The text groups `pairs` ([seq, group]) name, each read once, those not cached in one transaction (with
   * any dictionary they name and this connection has not read). A phrase check can ask for tens of thousands
   * of documents at once, far more than the cache holds: asking per document re-read a group for every one
   * of its 32 documents.
   */
  blocksOf(pairs: Iterable<[number, number]>): Map<string, Promise<TextGroup | null>> {
    const out = new Map<string, Promise<TextGroup | null>>();
    let tx: ReadTx | undefined;
    for (const [seq, g] of pairs) {
      const id = `${seq}:${g}`;
      if (out.has(id)) continue;
      let p = this.blocks.get(id);
      if (!p) {
        const t = (tx ??= this.database().transaction(['texts'], 'readonly'));
        p = t.store.get([seq, g]).then((b) => this.group(t, b));
        p.catch(() => this.blocks.delete(id));
        if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
        this.blocks.set(id, p);
      }
      out.set(id, p);
    }
    tx?.done.catch(() => {}); // a failed read rejects its own promise; this only keeps the abort from going unhandled
    return out;
  }

  private async group(tx: ReadTx, b: TextBlock | undefined): Promise<TextGroup | null> {
    if (!b) return null;
    if (b.docs) return new TextGroup(b.docs);
    if (b.z) return new TextGroup(await inflateEntries(b.z));
    if (b.d === undefined) return new TextGroup(null, b.p);
    // Asked while the transaction is still active (in the get's callback), or already read.
    let dict = this.dicts.get(b.d);
    if (!dict) {
      const id = b.d;
      dict = tx.store.get([DICT_SEQ, id]).then((r) => {
        if (!r?.dict) throw new Error(`IdbStore: text dictionary ${id} is missing`);
        return r.dict;
      });
      dict.catch(() => this.dicts.delete(id));
      this.dicts.set(id, dict);
    }
    return new TextGroup(null, b.p, await dict);
  }

  clear(): void {
    this.blocks.clear();
    this.dicts.clear();
  }
}
