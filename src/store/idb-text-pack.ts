/**
 * Packing IdbStore's text groups (formats in idb-text-groups.ts): fflate's deflate with the preset dictionary.
 * Only writes need it, so IdbStore imports this module on its first write: a page that only opens and
 * searches an index never loads the deflater.
 */
import { deflateSync } from 'fflate';
import { DICT_SEQ, type TextDict } from './idb-text-dict.ts';
import { TEXT_GROUP, TEXT_PART, type TextBlock, type TextEntry } from './idb-text-groups.ts';
import { ByteWriter } from './postings.ts';
import type { DocRecord, MetaRecord, PackedTexts, SegmentRecord } from './types.ts';

export { trainDict } from './idb-text-dict.ts';

/** Deflate level of new parts: 6 (zlib's default, what CompressionStream used). */
const LEVEL = 6;

/**
 * Text blocks of `segments`, built and compressed before a transaction opens (a transaction with nothing
 * queued auto-commits across an await), unless `packed` holds them already (IdbStore.packTexts, for the same
 * ids in the same order: ingest packs them before the write lock). Documents not in `given` (compaction, head
 * rewrites) are carried over from the blocks they live in now (read with `getDocs`); rows dead in `meta` (an
 * imported package keeps its tombstones) have none. New groups are packed with `dict`; when any block names
 * it, its record comes last (put again: the same id always holds the same bytes).
 */
export async function textBlocks(
  segments: SegmentRecord[],
  given: Map<string, DocRecord>,
  meta: MetaRecord,
  getDocs: (ids: string[]) => Promise<(DocRecord | undefined)[]>,
  dict: TextDict | null,
  packed: (PackedTexts | undefined)[] = [],
): Promise<TextBlock[]> {
  const blocks: TextBlock[] = [];
  let deadAfter: Set<number> | null = null;
  let usesDict = false;
  for (const [j, seg] of segments.entries()) {
    const p = packed[j];
    if (p)
      if (p.ids.length !== seg.ids.length || p.ids.some((id, i) => id !== seg.ids[i])) throw new Error('IdbStore: packed texts do not match their segment');
    // Packed with another dictionary (the store was reset since): packed again below, from `given`.
    if (p && (p.dict === undefined || p.dict === dict?.id)) {
      usesDict ||= p.dict !== undefined;
      p.parts.forEach((part, g) => blocks.push({ seq: seg.seq, g, p: part, ...(p.dict !== undefined ? { d: p.dict } : {}) }));
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
    usesDict ||= dict !== null;
    packEntries(entries, dict).forEach((part, g) => blocks.push({ seq: seg.seq, g, p: part, ...(dict ? { d: dict.id } : {}) }));
  }
  if (usesDict && dict) blocks.push({ seq: DICT_SEQ, g: dict.id, dict: dict.bytes });
  return blocks;
}

/** One packed record (`p`) per TEXT_GROUP entries, in order. */
export function packEntries(entries: TextEntry[], dict: TextDict | null): Uint8Array[] {
  const out: Uint8Array[] = [];
  const enc = new TextEncoder();
  const opts = { level: LEVEL, ...(dict ? { dictionary: dict.bytes } : {}) } as const;
  for (let g = 0; g * TEXT_GROUP < entries.length; g++) {
    const group = entries.slice(g * TEXT_GROUP, (g + 1) * TEXT_GROUP);
    const parts: Uint8Array[] = [];
    for (let k = 0; k < group.length; k += TEXT_PART) parts.push(deflateSync(enc.encode(JSON.stringify(group.slice(k, k + TEXT_PART))), opts));
    const head = new ByteWriter(16);
    head.varint(parts.length);
    for (const x of parts) head.varint(x.length);
    const record = new Uint8Array(head.length + parts.reduce((a, x) => a + x.length, 0));
    record.set(head.bytes());
    let at = head.length;
    for (const x of parts) record.set(x, (at += x.length) - x.length);
    out.push(record);
  }
  return out;
}
