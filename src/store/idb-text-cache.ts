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
import type { TextDecoderModel } from './text-code.ts';

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

export class TextGroupCache {
  private blocks = new Map<string, Promise<TextGroup>>();
  private models = new Map<number, Promise<TextDecoderModel>>();

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
        const t = (tx ??= this.database().transaction(['texts'], 'readonly'));
        // The model is asked for in the same transaction, from the group's success callback.
        p = t.store.get([seq, g]).then((b) => this.group(b, seq, g, t));
        p.catch(() => this.blocks.delete(id));
        if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
        this.blocks.set(id, p);
      }
      out.set(id, p);
    }
    tx?.done.catch(() => {}); // a failed read rejects its own promise; this only keeps the abort from going unhandled
    return out;
  }

  private async group(b: TextBlock | undefined, seq: number, g: number, tx: Tx): Promise<TextGroup> {
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

  /** Model `id` with its bases: every model record read (one getAll: a few per index) in the group's transaction. */
  private model(id: number, tx: Tx): Promise<TextDecoderModel> {
    let p = this.models.get(id);
    if (!p) {
      const range = IDBKeyRange.bound([MODEL_SEQ, -Infinity], [MODEL_SEQ, Infinity]);
      p = Promise.all([tx.store.getAll(range), textCode()]).then(([records, { decoderModel, resolveModel }]) => {
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
  }
}

const AFTER = 'clear the index (index.clear(), or delete the database) and index again, or import an exported copy';
