/**
 * Compact postings (schema 4): each posting list is a byte run of LEB128 varints, read in place.
 *
 * Documents (BM25) ascend inside a list, so each is stored as its gap: the first as itself, the next ones
 * as (this − previous − 1). Sparse rows may repeat (a row whose input named a token twice keeps both
 * entries, as schema 3 did, so scores stay the same): their gaps are (this − previous), the first the row. A segment holds far fewer than 2^28 rows, so a varint
 * is at most 4 bytes; longer ones are refused as damage.
 *
 *   sparse, per token:  varint(token gap in its group of 16), varint(byte length), then per entry:
 *                       varint(row gap), then the uint8 weight (group starts: groupTokens/groupOffsets)
 *           schema 6:   varint(gap·2 + (one entry ? 1 : 0)) and the byte length only for several entries
 *   BM25,   per entry:  varint(gap·2 + (tf = 1 ? 1 : 0)), then varint(tf) unless tf = 1
 *           schema 5:   varint(df) first, and after the entries each entry's positions (encodeBm25)
 *           schema 6:   the terms front-coded with each run's length in one dictionary instead of a string
 *                       array and uint32 offsets, and a df of 1 said there instead of in the run (bm25-terms.ts)
 *
 * (tf = 1 is most postings, so it rides in the gap's low bit.) Nothing is decoded on open: a query walks
 * only the lists of its terms. The codecs: sparse-postings.ts, bm25-postings.ts; schema ≤ 3 segments held the
 * same lists as plain arrays, which legacy-postings.ts converts, exactly. This module: the varint primitives.
 */
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

  /** Appends what another writer holds. */
  append(other: ByteWriter): void {
    this.room(other.length);
    this.buf.set(other.buf.subarray(0, other.length), this.length);
    this.length += other.length;
  }

  /** Appends bytes as they are. */
  raw(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
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

/** Where readCheckedVarint's varint ended. */
export const varintAt = { end: 0 };

/**
 * A varint at p before `end` (at most 4 bytes), or −1 when it runs past or is too long; its end in varintAt.end.
 * For the structure checks, which read bytes from outside.
 */
export function readCheckedVarint(bytes: Uint8Array, p: number, end = bytes.length): number {
  let v = 0;
  for (let shift = 0; shift < 7 * MAX_VARINT_BYTES; shift += 7) {
    if (p >= end) return -1;
    const c = bytes[p++];
    v |= (c & 0x7f) << shift;
    if (c < 0x80) {
      varintAt.end = p;
      return v;
    }
  }
  return -1;
}
