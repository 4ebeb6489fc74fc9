/**
 * Text groups: how IdbStore keeps document texts. The texts (and chunk spans) of TEXT_GROUP consecutive
 * documents of one segment go in one record of the `texts` store: coded with the index's word-level text
 * model (text-code.ts; IndexedDB >= 8, once a batch was large enough to train one), or raw-deflated JSON
 * (before that, and every group IndexedDB <= 7 wrote). A few puts per batch instead of one per document, and a
 * hit's text costs one small record, decoded synchronously (coded) or inflated (deflated), not a segment's. Ids, keys and metadata are already in the segment, so a DocRecord is rebuilt from both; the
 * id → (segment, row) map comes from the segments the index reads on open anyway, so searches that return
 * no texts still read nothing.
 */
import { crc32Fast } from './crc32-wasm.ts';
import type { TextModel } from './text-code.ts';
import type { DocRecord, MetaRecord, PackedTexts, SegmentRecord } from './types.ts';

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
  model?: TextModel;
}

/** The `seq` of text model records (segments count from 0). */
export const MODEL_SEQ = -1;

/** How a store packs one segment's entries (in order): groups coded with a model, or deflated (no model). */
export type PackEntries = (entries: TextEntry[]) => Promise<{ parts: Uint8Array[]; model?: number }>;

/**
 * Documents per text record. Small enough that a hit's text inflates and parses in well under a millisecond
 * (~20 KB of JSON for typical passages), big enough to keep deflate's ratio and the puts per batch few.
 */
export const TEXT_GROUP = 32;

/**
 * Text blocks of `segments`, built and compressed before a transaction opens (a transaction with nothing
 * queued auto-commits across an await), unless `packed` holds them already (IdbStore.packTexts, for the same
 * ids in the same order: ingest packs them before the write lock). Documents not in `given` (compaction, head
 * rewrites) are carried over from the blocks they live in now (read with `getDocs`); rows dead in `meta` (an
 * imported package keeps its tombstones) have none.
 */
export async function textBlocks(
  segments: SegmentRecord[],
  given: Map<string, DocRecord>,
  meta: MetaRecord,
  getDocs: (ids: string[]) => Promise<(DocRecord | undefined)[]>,
  packed: (PackedTexts | undefined)[],
  pack: PackEntries,
): Promise<TextBlock[]> {
  const blocks: TextBlock[] = [];
  let deadAfter: Set<number> | null = null;
  for (const [j, seg] of segments.entries()) {
    const p = packed[j];
    if (p) {
      if (p.ids.length !== seg.ids.length || p.ids.some((id, i) => id !== seg.ids[i])) throw new Error('IdbStore: packed texts do not match their segment');
      blocks.push(...groupBlocks(seg.seq, p.parts, p.model, p.ids.length));
      continue;
    }
    const need = seg.ids.filter((id) => !given.has(id));
    const old = need.length ? await getDocs(need) : [];
    const carried = new Map(need.map((id, i) => [id, old[i]]));
    const entries: TextEntry[] = seg.ids.map((id, i) => {
      const d = given.get(id) ?? carried.get(id);
      if (!d || d.key !== seg.keys[i]) {
        deadAfter ??= new Set(meta.tombstones);
        if (deadAfter.has(seg.keys[i])) return null;
        throw new Error(`IdbStore: no document record for "${id}"`);
      }
      return d.chunks ? [d.text, d.chunks.spans] : [d.text];
    });
    const made = await pack(entries);
    blocks.push(...groupBlocks(seg.seq, made.parts, made.model, entries.length));
  }
  return blocks;
}

/** The records of one segment's packed groups. */
function groupBlocks(seq: number, parts: Uint8Array[], model: number | undefined, rows: number): TextBlock[] {
  return parts.map((part, g) => (model === undefined ? { seq, g, z: part } : { seq, g, c: part, m: model, n: Math.min(TEXT_GROUP, rows - g * TEXT_GROUP), k: crc32Fast(part) }));
}

/** One deflated block per TEXT_GROUP entries, in order. */
export function packEntries(entries: TextEntry[]): Promise<Uint8Array[]> {
  const groups: Promise<Uint8Array>[] = [];
  for (let g = 0; g * TEXT_GROUP < entries.length; g++) groups.push(deflateEntries(entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP)));
  return Promise.all(groups);
}

async function deflateEntries(entries: TextEntry[]): Promise<Uint8Array> {
  // Into the stream's writer and out of its reader, like inflateEntries: no Blob or Response around it
  // (measured 1.6-1.9× less time per group in Chromium; ingest deflates a group per 32 documents).
  const cs = new CompressionStream('deflate-raw');
  const w = cs.writable.getWriter();
  w.write(new TextEncoder().encode(JSON.stringify(entries))).catch(() => {});
  w.close().catch(() => {});
  const r = cs.readable.getReader();
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
    bytes += value.length;
  }
  // A chunk may view a larger buffer (Node's zlib slices its output), and IndexedDB would store all of it.
  const one = parts.length === 1 ? parts[0] : null;
  if (one) return one.byteOffset === 0 && one.byteLength === one.buffer.byteLength ? one : one.slice();
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

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
