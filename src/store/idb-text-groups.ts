/**
 * Text groups: how IdbStore keeps document texts. The texts (and chunk spans) of TEXT_GROUP consecutive
 * documents of one segment go in one record of the `texts` store: coded with the index's word-level text
 * model (text-code.ts; IndexedDB >= 8, once a batch was large enough to train one), or raw-deflated JSON
 * (before that, and every group IndexedDB <= 7 wrote). A few puts per batch instead of one per document, and a
 * hit's text costs one small record, decoded synchronously (coded) or inflated (deflated), not a segment's.
 * Writing them is idb-text-pack.ts (loaded on the first write). Ids, keys and metadata are already in the
 * segment, so a DocRecord is rebuilt from both; the id → (segment, row) map comes from the segments the index reads on open anyway, so searches that return
 * no texts still read nothing.
 */
import type { TextModelRecord } from './text-code.ts';

/** Per document of a segment: [text] or [text, chunk spans]; null where v2 had no record (a dead row). */
export type TextEntry = [string] | [string, [number, number][]] | null;

/**
 * Rows g·TEXT_GROUP… of segment `seq`: `c` (n documents coded with text model `m`), `z` (deflate-raw of the
 * entries' JSON) or, from a migration, `docs`. A text model is a record of its own: seq MODEL_SEQ, g its id.
 */
export interface TextBlock {
  seq: number;
  g: number;
  z?: Uint8Array;
  docs?: TextEntry[];
  c?: Uint8Array;
  m?: number;
  n?: number;
  /** CRC-32 of `c`: a coded group that was damaged is refused, not decoded into other words. */
  k?: number;
  model?: TextModelRecord;
}

/** The `seq` of text model records (segments count from 0). */
export const MODEL_SEQ = -1;

/**
 * Documents per text record. Small enough that a hit's text inflates and parses in well under a millisecond
 * (~20 KB of JSON for typical passages), big enough to keep deflate's ratio and the puts per batch few.
 */
export const TEXT_GROUP = 32;

export async function inflateEntries(z: Uint8Array): Promise<TextEntry[]> {
  // Straight into the stream's writer and out of its reader: no Blob or Response around it (fewer hops
  // for what is a hit's text on the search path).
  const ds = new DecompressionStream('deflate-raw');
  const w = ds.writable.getWriter();
  w.write(z as Uint8Array<ArrayBuffer>).catch(() => {});
  w.close().catch(() => {});
  const r = ds.readable.getReader();
  const dec = new TextDecoder();
  let json = '';
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    json += dec.decode(value, { stream: true });
  }
  return JSON.parse(json + dec.decode()) as TextEntry[];
}
