/**
 * Text groups: how IdbStore keeps document texts. The texts (and chunk spans) of TEXT_GROUP consecutive
 * documents of one segment go in one record of the `texts` store, keyed [seq, group]. A few puts per batch
 * instead of one per document, and a hit's text costs one small record. Ids, keys and metadata are already in
 * the segment, so a DocRecord is rebuilt from both; the id → (segment, row) map comes from the segments the
 * index reads on open anyway, so searches that return no texts still read nothing.
 *
 * Record formats (both read; new groups are written in the second):
 *   z  (IndexedDB ≤ 6) deflate-raw of the group's entries as JSON, inflated with DecompressionStream (async);
 *   p  (IndexedDB 7) the group split in parts of TEXT_PART (16) documents, each deflated on its own with the
 *      index's preset dictionary `d` (idb-text-dict.ts) when the record names one: `p` is a varint count, the
 *      parts' varint lengths, then the parts. A hit inflates only its part, synchronously (fflate), so a page
 *      of hits costs its reads and a few small inflates, not a stream per group.
 * From the v2 migration a record may hold `docs`, the entries as they are. Writing them: idb-text-pack.ts.
 */
import { inflateSync } from 'fflate';
import { readVarint } from './postings.ts';

/** Per document of a segment: [text] or [text, chunk spans]; null where v2 had no record (a dead row). */
export type TextEntry = [string] | [string, [number, number][]] | null;

/** Rows g·TEXT_GROUP… of segment `seq` (formats above), or, at seq DICT_SEQ, a preset dictionary (`dict`). */
export interface TextBlock {
  seq: number;
  g: number;
  z?: Uint8Array;
  p?: Uint8Array;
  d?: number;
  docs?: TextEntry[];
  dict?: Uint8Array;
}

const UTF8 = new TextDecoder();

/** Documents per text record: the records' addressing (row → group), fixed since IndexedDB 3. */
export const TEXT_GROUP = 32;

/**
 * Documents per separately deflated part of a group: what a hit inflates. fflate's inflate costs about as
 * much per call as per byte at these sizes, and its deflate runs over the dictionary once per part, so
 * fewer, larger parts pack faster and smaller. Measured on the bench workload (node, process.cpuUsage,
 * 8 KiB dictionary, level 6; the numbers and command in the issue 14 report): parts of 16 take 193 B/doc
 * and ~55 µs/doc to pack, parts of 8 197 B/doc and ~70 µs/doc; whole groups in CompressionStream
 * (IndexedDB ≤ 6) 208 B/doc and ~44 µs/doc.
 */
export const TEXT_PART = 16;

/** One group's entries, each part inflated the first time one of its documents is asked for. */
export class TextGroup {
  private readonly parts: (TextEntry[] | undefined)[];
  private readonly spans: number[] = [];

  /** From the entries as they are (`docs`, or a z record inflated), or from a packed record and its dictionary. */
  constructor(
    entries: TextEntry[] | null,
    private readonly p?: Uint8Array,
    private readonly dict?: Uint8Array,
  ) {
    if (entries) {
      this.parts = [];
      for (let k = 0; k < entries.length; k += TEXT_PART) this.parts.push(entries.slice(k, k + TEXT_PART));
      return;
    }
    const at = { pos: 0 };
    const n = readVarint(p!, at, p!.length);
    const lengths = Array.from({ length: Math.max(0, n) }, () => readVarint(p!, at, p!.length));
    if (n < 0 || lengths.some((l) => l < 0)) throw new Error('IdbStore: damaged text record');
    let start = at.pos;
    for (const l of lengths) this.spans.push(start, (start += l));
    if (start !== p!.length) throw new Error('IdbStore: damaged text record');
    this.parts = new Array(n);
  }

  /** The entry of row `i` of the group (i < TEXT_GROUP); null for a dead row or a row past the group's end. */
  entry(i: number): TextEntry {
    const k = Math.floor(i / TEXT_PART);
    if (k >= this.parts.length) return null;
    let part = this.parts[k];
    if (!part) {
      const z = this.p!.subarray(this.spans[2 * k], this.spans[2 * k + 1]);
      part = this.parts[k] = JSON.parse(UTF8.decode(inflateSync(z, this.dict ? { dictionary: this.dict } : undefined))) as TextEntry[];
    }
    return part[i % TEXT_PART] ?? null;
  }
}

/** A z record's entries (IndexedDB ≤ 6 wrote them; DecompressionStream reads them). */
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
