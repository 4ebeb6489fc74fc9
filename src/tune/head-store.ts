/**
 * Tuned head versions in an index's store (Store.readHeads / writeHead), and the encoder view that uses the
 * head an index's sparse postings were made with. Imported by M3Index.open, so it imports nothing of search/.
 */
import type { SparseHead } from '../encoder/heads.ts';
import type { Store } from '../store/types.ts';
import { decodeHead, encodeHead, type TunedHeadRecord } from './head-codec.ts';

/** What an encoder needs to use a tuned head (M3Encoder has it). */
export interface SparseHeadSwappable {
  info: { headHash: string; hidden: number };
  withSparseHead(head: SparseHead | null, tag?: { version: number; hash: string }): unknown;
}

export function canSwapHead(e: unknown): e is SparseHeadSwappable {
  return typeof (e as SparseHeadSwappable | undefined)?.withSparseHead === 'function';
}

export async function listHeads(store: Store): Promise<TunedHeadRecord[]> {
  if (!store.readHeads) return [];
  return (await store.readHeads()).map((b) => decodeHead(b.bytes));
}

export async function readHead(store: Store, version: number): Promise<TunedHeadRecord | undefined> {
  return (await listHeads(store)).find((h) => h.version === version);
}

export async function writeHead(store: Store, rec: TunedHeadRecord): Promise<void> {
  if (!store.writeHead) throw new Error(`this ${store.kind} store cannot keep tuned heads (no writeHead)`);
  await store.writeHead({ version: rec.version, bytes: encodeHead(rec) });
}

export async function nextHeadVersion(store: Store): Promise<number> {
  const all = store.readHeads ? await store.readHeads() : [];
  return all.reduce((m, h) => Math.max(m, h.version), 0) + 1;
}

/** The encoder that reproduces an index's sparse postings: `encoder` with the tuned head `ref` names. */
export async function encoderWithStoredHead<E>(store: Store, ref: { version: number; hash: string }, encoder: E): Promise<E> {
  const rec = await readHead(store, ref.version);
  const fix = 'revert to the base head (m3-search tune --revert) or reopen with onMismatch: "re-embed"';
  if (!rec || rec.hash !== ref.hash)
    throw new Error(`this index's sparse postings were made by tuned head v${ref.version} (${ref.hash.slice(0, 12)}), which is not in its store: ${fix}`);
  if (!canSwapHead(encoder))
    throw new Error(
      `this index's sparse postings were made by tuned head v${ref.version}; the encoder given cannot use a tuned head (no withSparseHead): ${fix}`,
    );
  if (rec.baseHeadHash !== encoder.info.headHash || rec.hidden !== encoder.info.hidden)
    throw new Error(`tuned head v${ref.version} was tuned from another model's head: ${fix}`);
  return encoder.withSparseHead(rec.head, { version: rec.version, hash: rec.hash }) as E;
}
