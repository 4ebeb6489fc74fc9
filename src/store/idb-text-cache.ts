/**
 * Text groups (idb-text-groups.ts) of one IdbStore connection as read, kept in memory so a page of hits
 * reads each group once, with the text models they are coded with. A coded group decodes only the documents
 * asked for, synchronously; a deflated one (IndexedDB <= 7) is inflated and parsed whole.
 */
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { crc32Fast } from './crc32-wasm.ts';
import { M3StorageError } from './errors.ts';
import type { M3DB } from './idb-schema.ts';
import { inflateEntries, MODEL_SEQ, type TextBlock, type TextEntry } from './idb-text-groups.ts';
import type { TextDecoderModel, TextModelRecord } from './text-code.ts';

/**
 * The decoder, loaded with the first coded group read (in parallel with that read): a page that opens and
 * searches without texts does not ship it (the search path's size budget, scripts/check-size.mjs).
 */
let decoding: Promise<typeof import('./text-code.ts')> | undefined;
const textCode = () => (decoding ??= import('./text-code.ts'));

/** Groups kept in memory (a page of hits touches at most k of them). */
const BLOCK_CACHE = 64;

/** One group's documents by row within the group. */
export interface TextGroup {
  entry(i: number): TextEntry | undefined;
}

type Tx = IDBPTransaction<M3DB, ['texts'], 'readonly'>;

/** Text records read back by warm(): groups by "seq:g", and the model records. */
interface Preloaded {
  groups: Map<string, TextBlock>;
  models: Map<number, TextModelRecord>;
}

export class TextGroupCache {
  private blocks = new Map<string, Promise<TextGroup>>();
  private models = new Map<number, Promise<TextDecoderModel>>();
  /** Every text record as stored (warm()); groups written or models trained after it are read from IndexedDB. */
  private preloaded: Preloaded | null = null;
  private warming = false;
  /** Bumped by clear(): a preload that started before it is stale and dropped. */
  private generation = 0;

  constructor(
    private readonly database: () => IDBPDatabase<M3DB>,
    private readonly dbName: string,
  ) {}

  block(seq: number, g: number): Promise<TextGroup> {
    return this.blocksOf([[seq, g]]).get(`${seq}:${g}`)!;
  }

  /**
   * The text groups `pairs` ([seq, group]) name, each read once, those not cached in one transaction (with
   * the models they need and this connection has not read). A phrase check can ask for tens of thousands of
   * documents at once, far more than the cache holds: asking per document re-read a group for every one of
   * its 32 documents.
   */
  blocksOf(pairs: Iterable<[number, number]>): Map<string, Promise<TextGroup>> {
    const out = new Map<string, Promise<TextGroup>>();
    let tx: Tx | undefined;
    for (const [seq, g] of pairs) {
      const id = `${seq}:${g}`;
      if (out.has(id)) continue;
      let p = this.blocks.get(id);
      if (!p) {
        const b = this.preloaded?.groups.get(id);
        if (b && this.inMemory(b)) p = this.group(b, seq, g, null);
        else {
          const t = (tx ??= this.database().transaction(['texts'], 'readonly'));
          // The model is asked for in the same transaction, from the group's success callback.
          p = t.store.get([seq, g]).then((b) => this.group(b, seq, g, t));
        }
        p.catch(() => this.blocks.delete(id));
        if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
        this.blocks.set(id, p);
      }
      out.set(id, p);
    }
    tx?.done.catch(() => {}); // a failed read rejects its own promise; this only keeps the abort from going unhandled
    return out;
  }

  /**
   * Reads every text record in one getAll, in the background, so that later pages of hits decode from memory
   * instead of opening an IndexedDB transaction each (~100 B per document with coded groups: ~10 MB at 100k).
   * Once per connection, and again after clear(); a failed preload leaves reads on IndexedDB, as before.
   */
  warm(): void {
    if (this.warming) return;
    this.warming = true;
    const gen = this.generation;
    this.database()
      .getAll('texts')
      .then((records) => {
        if (gen !== this.generation) return;
        const groups = new Map<string, TextBlock>();
        const models = new Map<number, TextModelRecord>();
        for (const r of records) {
          if (r.seq === MODEL_SEQ) {
            if (r.model) models.set(r.g, r.model);
          } else groups.set(`${r.seq}:${r.g}`, r);
        }
        this.preloaded = { groups, models };
      })
      .catch(() => {});
  }

  /** Whether a preloaded group can be decoded without IndexedDB: its model (and the bases it needs) was preloaded too. */
  private inMemory(b: TextBlock): boolean {
    return !b.c || this.preloaded!.models.has(b.m ?? -1);
  }

  private async group(b: TextBlock | undefined, seq: number, g: number, tx: Tx | null): Promise<TextGroup> {
    if (!b) return { entry: () => undefined };
    if (!b.c) {
      const docs = b.docs ?? (await inflateEntries(b.z!));
      return { entry: (i) => docs[i] };
    }
    const bytes = b.c;
    const n = b.n ?? -1;
    if (!(bytes instanceof Uint8Array) || b.k !== crc32Fast(bytes))
      throw this.damaged(seq, g, 'checksum mismatch: the record was damaged after it was written');
    const model = this.model(b.m ?? -1, tx); // asked for now, while the transaction is active
    const { decodeDoc, docSpans } = await textCode();
    const at = n >= 0 ? docSpans(bytes, n) : null;
    if (!at) throw this.damaged(seq, g, 'its document lengths do not add up to the record');
    const m = await model;
    const seen = new Map<number, TextEntry>();
    return {
      entry: (i) => {
        if (!(i >= 0 && i < n)) return undefined;
        let e = seen.get(i);
        if (e === undefined) {
          try {
            e = decodeDoc(bytes, at[i], at[i + 1], m);
          } catch (err) {
            throw this.damaged(seq, g, `document ${i} does not decode (${(err as Error).message})`);
          }
          seen.set(i, e);
        }
        return e;
      },
    };
  }

  /**
   * Model `id` with its bases: every model record read (one getAll: a few per index) in the group's transaction,
   * or taken from the preload (`tx` null).
   */
  private model(id: number, tx: Tx | null): Promise<TextDecoderModel> {
    let p = this.models.get(id);
    if (!p) {
      const range = IDBKeyRange.bound([MODEL_SEQ, -Infinity], [MODEL_SEQ, Infinity]);
      const records = tx ? tx.store.getAll(range) : [...this.preloaded!.models].map(([g, model]) => ({ seq: MODEL_SEQ, g, model }));
      p = Promise.all([records, textCode()]).then(([records, { decoderModel, resolveModel }]) => {
        const all = new Map(records.filter((r) => r.model).map((r) => [r.g, r.model!]));
        const full = resolveModel(all, id);
        const m = full && decoderModel(full);
        if (!m) throw new M3StorageError('CORRUPT', `IndexedDB database "${this.dbName}", text model ${id}: ${all.has(id) ? 'damaged' : 'missing'}; ${AFTER}`);
        return m;
      });
      p.catch(() => this.models.delete(id));
      this.models.set(id, p);
    }
    return p;
  }

  private damaged(seq: number, g: number, why: string): M3StorageError {
    return new M3StorageError('CORRUPT', `IndexedDB database "${this.dbName}", text record [${seq}, ${g}]: ${why}; ${AFTER}`);
  }

  clear(): void {
    this.blocks.clear();
    this.models.clear();
    this.preloaded = null;
    this.warming = false;
    this.generation++;
  }
}

const AFTER = 'clear the index (index.clear(), or delete the database) and index again, or import an exported copy';
