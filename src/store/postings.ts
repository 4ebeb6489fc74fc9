/**
 * Compact postings (schema 4): each posting list is a byte run of LEB128 varints, read in place.
 *
 * Rows (sparse) and documents (BM25) ascend inside a list, so each is stored as its gap: the first as
 * itself, the next ones as (this − previous − 1). A segment holds far fewer than 2^28 rows, so a varint
 * is at most 4 bytes; longer ones are refused as damage.
 *
 *   sparse, per entry:  varint(gap), then the uint8 weight
 *   BM25,   per entry:  varint(gap·2 + (tf = 1 ? 1 : 0)), then varint(tf) unless tf = 1
 *
 * (tf = 1 is most postings, so it rides in the gap's low bit.) Nothing is decoded on open: a query walks
 * only the lists of its terms. Schema ≤ 3 segments held the same lists as plain arrays
 * (LegacySparseBlock, LegacyBm25Block); compactPostings() converts them, exactly.
 */
import type { Bm25Block, SegmentRecord, SparseBlock } from './types.ts';

/** A varint may use at most this many bytes (values < 2^28). */
const MAX_VARINT_BYTES = 4;

/** Appends varints and bytes to a growing buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  varint(v: number): void {
    if (!(v >= 0 && v < 2 ** 28) || !Number.isInteger(v)) throw new RangeError(`postings: ${v} cannot be stored (0 ≤ value < 2^28)`);
    this.room(MAX_VARINT_BYTES);
    while (v >= 0x80) {
      this.buf[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.length++] = v;
  }

  byte(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  /** The bytes written, in an array of their own size. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

/**
 * Reads one varint at `pos` of `bytes` (before `end`); returns the value and leaves the next position in
 * `at.pos`. Hot loops inline the one-byte case and call this for the rest.
 */
export function readVarint(bytes: Uint8Array, at: { pos: number }, end: number): number {
  let v = 0;
  for (let i = 0, shift = 0; i < MAX_VARINT_BYTES; i++, shift += 7) {
    if (at.pos >= end) return -1;
    const b = bytes[at.pos++];
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
  return -1;
}

// ---------------------------------------------------------------------------- sparse

/** Encodes a sparse list set from parallel arrays (entries of token t at offsets[t]..offsets[t+1]). */
export function encodeSparse(tokens: Uint32Array, entryOffsets: ArrayLike<number>, rows: ArrayLike<number>, weights: ArrayLike<number>, scale: number): SparseBlock {
  const w = new ByteWriter(rows.length * 2 + 16);
  const offsets = new Uint32Array(tokens.length + 1);
  for (let t = 0; t < tokens.length; t++) {
    offsets[t] = w.length;
    let prev = -1;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      w.varint(rows[e] - prev - 1);
      w.byte(weights[e]);
      prev = rows[e];
    }
  }
  offsets[tokens.length] = w.length;
  return { tokens, offsets, postings: w.bytes(), entries: rows.length, scale };
}

/** Calls fn(row, quantised weight) for each entry of token index t, rows ascending. */
export function forEachSparse(s: SparseBlock, t: number, fn: (row: number, q: number) => void): void {
  const { postings } = s;
  const at = { pos: s.offsets[t] };
  const end = s.offsets[t + 1];
  let row = -1;
  while (at.pos < end) {
    row += readVarint(postings, at, end) + 1;
    fn(row, postings[at.pos++]);
  }
}

/** Why the block's byte runs do not decode into `entries` entries over `rows` rows, or null. */
export function sparsePostingsProblem(s: SparseBlock, rows: number): string | null {
  const { postings, offsets } = s;
  const at = { pos: 0 };
  let n = 0;
  for (let t = 0; t < s.tokens.length; t++) {
    const end = offsets[t + 1];
    let row = -1;
    while (at.pos < end) {
      const gap = readVarint(postings, at, end);
      if (gap < 0 || at.pos >= end) return `sparse postings of token ${s.tokens[t]} are cut short or malformed`;
      row += gap + 1;
      if (row >= rows) return `sparse entry ${n} names row ${row} of ${rows}`;
      at.pos++;
      n++;
    }
  }
  return n === s.entries ? null : `sparse block says ${s.entries} entries but holds ${n}`;
}

// ---------------------------------------------------------------------------- BM25

/** Encodes BM25 lists from parallel arrays (docs ascending inside each term). */
export function encodeBm25(terms: string[], entryOffsets: ArrayLike<number>, docs: ArrayLike<number>, tfs: ArrayLike<number>, lengths: Uint32Array): Bm25Block {
  const w = new ByteWriter(docs.length * 2 + 16);
  const offsets = new Uint32Array(terms.length + 1);
  for (let t = 0; t < terms.length; t++) {
    offsets[t] = w.length;
    let prev = -1;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      const tf = tfs[e];
      const gap = docs[e] - prev - 1;
      w.varint(gap * 2 + (tf === 1 ? 1 : 0));
      if (tf !== 1) w.varint(tf);
      prev = docs[e];
    }
  }
  offsets[terms.length] = w.length;
  return { terms, offsets, postings: w.bytes(), lengths };
}

/**
 * Decodes term index t's postings into `docs`/`tfs` from position `n`; returns the new count. The arrays
 * must have room (a list holds at most one posting per byte, so its byte length is enough).
 */
export function decodeBm25Into(b: Bm25Block, t: number, docs: Uint32Array, tfs: Uint32Array, n: number): number {
  const { postings } = b;
  const at = { pos: b.offsets[t] };
  const end = b.offsets[t + 1];
  let doc = -1;
  while (at.pos < end) {
    let v = postings[at.pos];
    if (v < 0x80) at.pos++;
    else v = readVarint(postings, at, end);
    doc += (v >>> 1) + 1;
    docs[n] = doc;
    tfs[n++] = v & 1 ? 1 : readVarint(postings, at, end);
  }
  return n;
}

/** Byte length of term index t's postings (an upper bound on its posting count). */
export function bm25ListBytes(b: Bm25Block, t: number): number {
  return b.offsets[t + 1] - b.offsets[t];
}

/** Why the block's byte runs do not decode into postings over `docs` documents, or null. */
export function bm25PostingsProblem(b: Bm25Block, docs: number): string | null {
  const { postings, offsets } = b;
  const at = { pos: 0 };
  for (let t = 0; t < b.terms.length; t++) {
    const end = offsets[t + 1];
    let doc = -1;
    while (at.pos < end) {
      const v = readVarint(postings, at, end);
      const tf = v < 0 ? -1 : v & 1 ? 1 : readVarint(postings, at, end);
      if (tf < 0) return `BM25 postings of ${JSON.stringify(b.terms[t])} are cut short or malformed`;
      doc += (v >>> 1) + 1;
      if (doc >= docs) return `BM25 posting of ${JSON.stringify(b.terms[t])} names document ${doc} of ${docs}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------- schema ≤ 3

/** A schema ≤ 3 sparse block: rows and weights as parallel arrays, offsets counting entries. */
export interface LegacySparseBlock {
  tokens: Uint32Array;
  offsets: Uint32Array;
  rows: Uint16Array | Uint32Array;
  weights: Uint8Array;
  scale: number;
}

/** A schema ≤ 3 BM25 block: docs and tfs as parallel arrays, offsets counting postings. */
export interface LegacyBm25Block {
  terms: string[];
  offsets: Uint32Array;
  docs: Uint16Array | Uint32Array;
  tfs: Uint8Array | Uint16Array;
  lengths: Uint32Array;
}

/** A segment as schema ≤ 3 stored it. */
export type LegacySegment = Omit<SegmentRecord, 'sparse' | 'bm25'> & { sparse: LegacySparseBlock | SparseBlock | null; bm25: LegacyBm25Block | Bm25Block | null };

export const isLegacySparse = (s: unknown): s is LegacySparseBlock => !!s && typeof s === 'object' && 'rows' in s && !('postings' in s);
export const isLegacyBm25 = (b: unknown): b is LegacyBm25Block => !!b && typeof b === 'object' && 'docs' in b && !('postings' in b);

/** True when the segment's postings are in the schema ≤ 3 layout. */
export function hasLegacyPostings(seg: LegacySegment | SegmentRecord): boolean {
  return isLegacySparse(seg.sparse) || isLegacyBm25(seg.bm25);
}

/**
 * The segment with schema ≤ 3 postings re-coded (the same entries, rows, weights and tfs, so every score
 * stays bit for bit). A malformed legacy block (its arrays disagreeing) is returned unconverted, so the
 * structural check that follows refuses it by name.
 */
export function compactPostings(seg: LegacySegment): SegmentRecord {
  const out = { ...seg } as SegmentRecord;
  const s = seg.sparse;
  if (isLegacySparse(s) && legacyCsrOk(s.offsets, s.tokens?.length, s.rows?.length) && s.weights?.length === s.rows.length && ascending(s.offsets, s.rows)) {
    out.sparse = encodeSparse(s.tokens, s.offsets, s.rows, s.weights, s.scale);
  }
  const b = seg.bm25;
  if (isLegacyBm25(b) && Array.isArray(b.terms) && legacyCsrOk(b.offsets, b.terms.length, b.docs?.length) && b.tfs?.length === b.docs.length && ascending(b.offsets, b.docs) && fitsTf(b.tfs)) {
    out.bm25 = encodeBm25(b.terms, b.offsets, b.docs, b.tfs, b.lengths);
  }
  return out;
}

function legacyCsrOk(offsets: Uint32Array | undefined, groups: number | undefined, entries: number | undefined): boolean {
  if (!(offsets instanceof Uint32Array) || groups === undefined || entries === undefined || offsets.length !== groups + 1) return false;
  if (offsets[0] !== 0 || offsets[groups] !== entries) return false;
  for (let i = 1; i <= groups; i++) if (offsets[i] < offsets[i - 1]) return false;
  return true;
}

/** Entries strictly ascending inside each group (what gap coding needs). */
function ascending(offsets: Uint32Array, values: ArrayLike<number>): boolean {
  for (let g = 0; g + 1 < offsets.length; g++) for (let e = offsets[g] + 1; e < offsets[g + 1]; e++) if (values[e] <= values[e - 1]) return false;
  return true;
}

function fitsTf(tfs: ArrayLike<number>): boolean {
  for (let i = 0; i < tfs.length; i++) if (!Number.isInteger(tfs[i]) || tfs[i] < 0 || tfs[i] >= 2 ** 28) return false;
  return true;
}
