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
 *   BM25,   per entry:  varint(gap·2 + (tf = 1 ? 1 : 0)), then varint(tf) unless tf = 1
 *           schema 5:   varint(df) first, and after the entries each entry's positions (encodeBm25)
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

  /** Appends what another writer holds. */
  append(other: ByteWriter): void {
    this.room(other.length);
    this.buf.set(other.buf.subarray(0, other.length), this.length);
    this.length += other.length;
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

/**
 * Tokens per group of the sparse dictionary. A lookup binary-searches the groups' first tokens, then walks at
 * most this many token headers; the ids and list lengths in between cost ~2 bytes a token instead of 8.
 */
export const SPARSE_GROUP = 16;

/**
 * Encodes sparse lists from parallel arrays (entries of tokens[t] at entryOffsets[t]..entryOffsets[t+1]).
 * Per token: varint(token − the previous token of its group; 0 for a group's first), varint(byte length of
 * its entries), then the entries.
 */
export function encodeSparse(
  tokens: ArrayLike<number>,
  entryOffsets: ArrayLike<number>,
  rows: ArrayLike<number>,
  weights: ArrayLike<number>,
  scale: number,
): SparseBlock {
  const w = new ByteWriter(rows.length * 2 + tokens.length * 3 + 16);
  const entries = new ByteWriter(256);
  const groups = Math.ceil(tokens.length / SPARSE_GROUP);
  const groupTokens = new Uint32Array(groups);
  const groupOffsets = new Uint32Array(groups + 1);
  for (let t = 0; t < tokens.length; t++) {
    const g = Math.floor(t / SPARSE_GROUP);
    if (t % SPARSE_GROUP === 0) {
      groupTokens[g] = tokens[t];
      groupOffsets[g] = w.length;
    }
    entries.length = 0;
    let prev = 0;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      entries.varint(rows[e] - prev);
      entries.byte(weights[e]);
      prev = rows[e];
    }
    w.varint(t % SPARSE_GROUP === 0 ? 0 : tokens[t] - tokens[t - 1]);
    w.varint(entries.length);
    w.append(entries);
  }
  groupOffsets[groups] = w.length;
  return { groupTokens, groupOffsets, postings: w.bytes(), tokens: tokens.length, entries: rows.length, scale };
}

/**
 * Finds `token`'s list: sets at.pos/at.end to its entries' byte range and returns true, or returns false.
 */
export function findSparseList(s: SparseBlock, token: number, at: { pos: number; end: number }): boolean {
  const { groupTokens, groupOffsets, postings } = s;
  let lo = 0;
  let hi = groupTokens.length - 1;
  if (hi < 0 || token < groupTokens[0]) return false;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (groupTokens[mid] <= token) lo = mid;
    else hi = mid - 1;
  }
  const end = groupOffsets[lo + 1];
  const cur = { pos: groupOffsets[lo] };
  let tok = groupTokens[lo];
  while (cur.pos < end) {
    tok += readVarint(postings, cur, end);
    const len = readVarint(postings, cur, end);
    if (tok === token) {
      at.pos = cur.pos;
      at.end = cur.pos + len;
      return true;
    }
    if (tok > token) return false;
    cur.pos += len;
  }
  return false;
}

/** Calls fn(token, start, end) for each token's entry byte range, tokens ascending. */
export function forEachSparseList(s: SparseBlock, fn: (token: number, start: number, end: number) => void): void {
  const { groupTokens, groupOffsets, postings } = s;
  const cur = { pos: 0 };
  for (let g = 0; g < groupTokens.length; g++) {
    const end = groupOffsets[g + 1];
    cur.pos = groupOffsets[g];
    let tok = groupTokens[g];
    while (cur.pos < end) {
      tok += readVarint(postings, cur, end);
      const len = readVarint(postings, cur, end);
      fn(tok, cur.pos, cur.pos + len);
      cur.pos += len;
    }
  }
}

/** Calls fn(row, quantised weight) for each entry in bytes start..end of the postings, rows ascending. */
export function forEachSparseEntry(s: SparseBlock, start: number, end: number, fn: (row: number, q: number) => void): void {
  const { postings } = s;
  const at = { pos: start };
  let row = 0;
  while (at.pos < end) {
    row += readVarint(postings, at, end);
    fn(row, postings[at.pos++]);
  }
}

/** Why the block does not decode into its `tokens` ascending token lists and `entries` entries over `rows` rows, or null. */
export function sparsePostingsProblem(s: SparseBlock, rows: number): string | null {
  const { groupTokens, groupOffsets, postings: bytes } = s;
  const groups = groupTokens.length;
  if (groupOffsets.length !== groups + 1 || groupOffsets[0] !== 0 || groupOffsets[groups] !== bytes.length)
    return `sparse groups: ${groupOffsets.length} offsets for ${groups} groups over ${bytes.length} bytes`;
  // Runs on every open over every byte: varints decoded inline (a byte past `end` reads as undefined → 0,
  // and the position checks below catch it).
  let p = 0;
  let tokens = 0;
  let entries = 0;
  let last = -1;
  for (let g = 0; g < groups; g++) {
    const end = groupOffsets[g + 1];
    if (p !== groupOffsets[g] || !(end > p)) return `sparse group ${g} does not start where the previous one ended, or is empty`;
    let tok = groupTokens[g];
    let first = true;
    while (p < end) {
      let b = bytes[p++];
      let gap = b & 0x7f;
      for (let shift = 7; b >= 0x80; shift += 7) {
        if (shift > 21) return `sparse group ${g} is malformed`;
        b = bytes[p++];
        gap |= (b & 0x7f) << shift;
      }
      b = bytes[p++];
      let len = b & 0x7f;
      for (let shift = 7; b >= 0x80; shift += 7) {
        if (shift > 21) return `sparse group ${g} is malformed`;
        b = bytes[p++];
        len |= (b & 0x7f) << shift;
      }
      const listEnd = p + len;
      if (p > end || listEnd > end) return `sparse group ${g} is cut short or malformed`;
      if (first ? gap !== 0 : gap === 0) return `sparse token ids of group ${g} are not strictly ascending`;
      tok += gap;
      first = false;
      if (tok <= last) return 'sparse token ids are not strictly ascending';
      last = tok;
      tokens++;
      let row = 0;
      while (p < listEnd) {
        b = bytes[p++];
        let rg = b & 0x7f;
        for (let shift = 7; b >= 0x80; shift += 7) {
          if (shift > 21) return `sparse postings of token ${tok} are malformed`;
          b = bytes[p++];
          rg |= (b & 0x7f) << shift;
        }
        row += rg;
        if (p >= listEnd) return `sparse postings of token ${tok} are cut short or malformed`;
        if (row >= rows) return `sparse entry ${entries} names row ${row} of ${rows}`;
        p++;
        entries++;
      }
    }
  }
  if (tokens !== s.tokens) return `sparse block says ${s.tokens} tokens but holds ${tokens}`;
  return entries === s.entries ? null : `sparse block says ${s.entries} entries but holds ${entries}`;
}

// ---------------------------------------------------------------------------- BM25

/** The largest tf a posting stores (search keeps tfs as uint16); a term counted more often keeps all its positions. */
export const MAX_STORED_TF = 0xffff;

/** A term's positions in one document: one as a number, several ascending. */
export type TermPositions = number | ArrayLike<number>;

/** How many positions. */
export const positionCount = (p: TermPositions): number => (typeof p === 'number' ? 1 : p.length);

/**
 * Encodes BM25 lists from parallel arrays (docs ascending inside each term). With `positions` (schema 5:
 * per entry, the term's positions in the document, ascending), each term's run starts with varint(df), then
 * its postings as without, then per posting its positions: varint(first), varint(gap to the next)… — as many
 * as the posting's tf, except that a tf at MAX_STORED_TF is followed by the true count, varint(count).
 */
export function encodeBm25(
  terms: string[],
  entryOffsets: ArrayLike<number>,
  docs: ArrayLike<number>,
  tfs: ArrayLike<number>,
  lengths: Uint32Array,
  positions?: ArrayLike<TermPositions>,
): Bm25Block {
  const w = new ByteWriter(docs.length * (positions ? 4 : 2) + 16);
  const offsets = new Uint32Array(terms.length + 1);
  for (let t = 0; t < terms.length; t++) {
    offsets[t] = w.length;
    if (positions) w.varint(entryOffsets[t + 1] - entryOffsets[t]);
    let prev = -1;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      const tf = tfs[e];
      const gap = docs[e] - prev - 1;
      w.varint(gap * 2 + (tf === 1 ? 1 : 0));
      if (tf !== 1) w.varint(tf);
      prev = docs[e];
    }
    if (!positions) continue;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      const p = positions[e];
      const pos = typeof p === 'number' ? [p] : p;
      const tf = tfs[e];
      if (tf === MAX_STORED_TF ? pos.length < tf : pos.length !== tf)
        throw new RangeError(`postings: ${pos.length} positions for tf ${tf} of ${JSON.stringify(terms[t])}`);
      if (tf === MAX_STORED_TF) w.varint(pos.length);
      let last = 0;
      for (let i = 0; i < pos.length; i++) {
        if (pos[i] < last) throw new RangeError(`postings: positions of ${JSON.stringify(terms[t])} are not ascending`);
        w.varint(pos[i] - last);
        last = pos[i];
      }
    }
  }
  offsets[terms.length] = w.length;
  return positions ? { terms, offsets, postings: w.bytes(), lengths, positions: true } : { terms, offsets, postings: w.bytes(), lengths };
}

/**
 * Decodes term index t's postings into `docs`/`tfs` from position `n`; returns the new count. The arrays
 * must have room for bm25ListBound(b, t) more. Leaves in `at.pos`, when given, where the list's positions start.
 */
export function decodeBm25Into(b: Bm25Block, t: number, docs: Uint32Array, tfs: Uint32Array, n: number, at = { pos: 0 }): number {
  const { postings } = b;
  at.pos = b.offsets[t];
  const end = b.offsets[t + 1];
  if (b.positions) {
    const df = readVarint(postings, at, end);
    return decodeDocs(postings, at, end, docs, tfs, n, df);
  }
  return decodeDocs(postings, at, end, docs, tfs, n, Number.POSITIVE_INFINITY);
}

function decodeDocs(postings: Uint8Array, at: { pos: number }, end: number, docs: Uint32Array, tfs: Uint32Array, n: number, count: number): number {
  let doc = -1;
  for (let i = 0; i < count && at.pos < end; i++) {
    let v = postings[at.pos];
    if (v < 0x80) at.pos++;
    else v = readVarint(postings, at, end);
    doc += (v >>> 1) + 1;
    docs[n] = doc;
    tfs[n++] = v & 1 ? 1 : readVarint(postings, at, end);
  }
  return n;
}

/** An upper bound on term index t's posting count (its df where the block stores positions, else its byte length). */
export function bm25ListBound(b: Bm25Block, t: number): number {
  if (!b.positions) return b.offsets[t + 1] - b.offsets[t];
  return readVarint(b.postings, { pos: b.offsets[t] }, b.offsets[t + 1]);
}

// forEachBm25Positions' decoded entries, reused (its callbacks must not call it again).
let scratchDocs = new Uint32Array(0);
let scratchTfs = new Uint32Array(0);

/**
 * Term index t's postings with their positions (a block with positions only): for each posting whose
 * document `want` accepts, got(doc, positions, count) — `positions` is scratch, valid during the call; the
 * callbacks must not call forEachBm25Positions.
 */
export function forEachBm25Positions(
  b: Bm25Block,
  t: number,
  want: (doc: number) => boolean,
  got: (doc: number, positions: Uint32Array, count: number) => void,
): void {
  if (!b.positions) throw new Error('this BM25 block stores no positions');
  const df = bm25ListBound(b, t);
  if (scratchDocs.length < df) [scratchDocs, scratchTfs] = [new Uint32Array(df), new Uint32Array(df)];
  const docs = scratchDocs;
  const tfs = scratchTfs;
  const at = { pos: 0 };
  decodeBm25Into(b, t, docs, tfs, 0, at);
  const { postings } = b;
  const end = b.offsets[t + 1];
  let scratch = new Uint32Array(16);
  for (let e = 0; e < df; e++) {
    const tf = tfs[e];
    const count = tf === MAX_STORED_TF ? readVarint(postings, at, end) : tf;
    if (!want(docs[e])) {
      for (let i = 0; i < count; i++) while (postings[at.pos++] >= 0x80);
      continue;
    }
    if (scratch.length < count) scratch = new Uint32Array(count);
    let p = 0;
    for (let i = 0; i < count; i++) {
      const v = postings[at.pos];
      p += v < 0x80 ? (at.pos++, v) : readVarint(postings, at, end);
      scratch[i] = p;
    }
    got(docs[e], scratch, count);
  }
}

/** Bytes the block spends on positions (each term's df and its postings' positions): what phrases cost. */
export function bm25PositionBytes(b: Bm25Block): number {
  if (!b.positions) return 0;
  let bytes = 0;
  let docs = new Uint32Array(0);
  let tfs = new Uint32Array(0);
  const at = { pos: 0 };
  for (let t = 0; t < b.terms.length; t++) {
    const df = bm25ListBound(b, t);
    if (docs.length < df) [docs, tfs] = [new Uint32Array(df * 2), new Uint32Array(df * 2)];
    decodeBm25Into(b, t, docs, tfs, 0, at);
    // The df varint and everything after the entries.
    bytes += b.offsets[t + 1] - at.pos + varintLength(df);
  }
  return bytes;
}

function varintLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
}

/** Why the block's byte runs do not decode into postings over `docs` documents, or null. */
export function bm25PostingsProblem(b: Bm25Block, docs: number): string | null {
  const { postings: bytes, offsets } = b;
  if (b.positions !== undefined && b.positions !== true) return 'BM25 block: positions must be true or absent';
  const withPositions = b.positions === true;
  const tfs = withPositions ? new Uint32Array(64) : null;
  const list = withPositions ? new Uint32Array(64) : null;
  let p = 0;
  // Every open, every byte: varints inline, as in sparsePostingsProblem.
  for (let t = 0; t < b.terms.length; t++) {
    const end = offsets[t + 1];
    const bad = () => `BM25 postings of ${JSON.stringify(b.terms[t])} are malformed or cut short`;
    let df = Number.POSITIVE_INFINITY;
    if (withPositions) {
      df = readProblemVarint(bytes, p);
      if (df < 0) return bad();
      p = varintEnd;
    }
    let doc = -1;
    let n = 0;
    let docsOf: Uint32Array | null = list;
    let tfsOf: Uint32Array | null = tfs;
    if (withPositions && df > docsOf!.length) [docsOf, tfsOf] = [new Uint32Array(df), new Uint32Array(df)];
    while (n < df && p < end) {
      let c = bytes[p++];
      let v = c & 0x7f;
      for (let shift = 7; c >= 0x80; shift += 7) {
        if (shift > 21) return bad();
        c = bytes[p++];
        v |= (c & 0x7f) << shift;
      }
      let tf = 1;
      if (!(v & 1)) {
        c = bytes[p++];
        tf = c & 0x7f;
        for (let shift = 7; c >= 0x80; shift += 7) {
          if (shift > 21) return bad();
          c = bytes[p++];
          tf |= (c & 0x7f) << shift;
        }
      }
      if (p > end) return bad();
      doc += (v >>> 1) + 1;
      if (doc >= docs) return `BM25 posting of ${JSON.stringify(b.terms[t])} names document ${doc} of ${docs}`;
      if (withPositions) {
        if (tf < 1 || tf > MAX_STORED_TF) return bad();
        docsOf![n] = doc;
        tfsOf![n] = tf;
      }
      n++;
    }
    if (!withPositions) continue;
    if (n !== df || df === 0) return `BM25 postings of ${JSON.stringify(b.terms[t])}: ${n} postings for df ${df}`;
    for (let e = 0; e < n; e++) {
      let count = tfsOf![e];
      if (count === MAX_STORED_TF) {
        count = readProblemVarint(bytes, p);
        if (count < MAX_STORED_TF) return bad();
        p = varintEnd;
      }
      // A position is below the document's length in terms: positions group tokens, so there are at most as many.
      const length = b.lengths[docsOf![e]];
      let pos = 0;
      for (let i = 0; i < count; i++) {
        const d = readProblemVarint(bytes, p);
        if (d < 0) return bad();
        p = varintEnd;
        pos += d;
      }
      if (p > end) return bad();
      if (pos >= length) return `BM25 positions of ${JSON.stringify(b.terms[t])} run past document ${docsOf![e]}'s ${length} terms`;
    }
    if (p !== end) return bad();
  }
  return null;
}

/** Where readProblemVarint's varint ended. */
let varintEnd = 0;

/** A varint at p (at most 4 bytes), or −1; its end in varintEnd. */
function readProblemVarint(bytes: Uint8Array, p: number): number {
  let v = 0;
  for (let shift = 0; shift <= 21; shift += 7) {
    if (p >= bytes.length) return -1;
    const c = bytes[p++];
    v |= (c & 0x7f) << shift;
    if (c < 0x80) {
      varintEnd = p;
      return v;
    }
  }
  return -1;
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
export type LegacySegment = Omit<SegmentRecord, 'sparse' | 'bm25'> & {
  sparse: LegacySparseBlock | SparseBlock | null;
  bm25: LegacyBm25Block | Bm25Block | null;
};

export const isLegacySparse = (s: unknown): s is LegacySparseBlock => !!s && typeof s === 'object' && 'rows' in s && !('postings' in s);
export const isLegacyBm25 = (b: unknown): b is LegacyBm25Block => !!b && typeof b === 'object' && 'docs' in b && !('postings' in b);

/**
 * The segment with schema ≤ 3 postings re-coded (the same entries, rows, weights and tfs, so every score
 * stays bit for bit). A malformed legacy block (its arrays disagreeing) is returned unconverted, so the
 * structural check that follows refuses it by name.
 */
export function compactPostings(seg: LegacySegment): SegmentRecord {
  const out = { ...seg } as SegmentRecord;
  const s = seg.sparse;
  if (
    isLegacySparse(s) &&
    legacyCsrOk(s.offsets, s.tokens?.length, s.rows?.length) &&
    s.weights?.length === s.rows.length &&
    ascending(s.offsets, s.rows, true)
  ) {
    out.sparse = encodeSparse(s.tokens, s.offsets, s.rows, s.weights, s.scale);
  }
  const b = seg.bm25;
  if (
    isLegacyBm25(b) &&
    Array.isArray(b.terms) &&
    legacyCsrOk(b.offsets, b.terms.length, b.docs?.length) &&
    b.tfs?.length === b.docs.length &&
    ascending(b.offsets, b.docs) &&
    fitsTf(b.tfs)
  ) {
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

/** Entries ascending inside each group, strictly unless `repeats` (what gap coding needs). */
function ascending(offsets: Uint32Array, values: ArrayLike<number>, repeats = false): boolean {
  for (let g = 0; g + 1 < offsets.length; g++)
    for (let e = offsets[g] + 1; e < offsets[g + 1]; e++) if (values[e] < values[e - 1] || (!repeats && values[e] === values[e - 1])) return false;
  return true;
}

function fitsTf(tfs: ArrayLike<number>): boolean {
  for (let i = 0; i < tfs.length; i++) if (!Number.isInteger(tfs[i]) || tfs[i] < 0 || tfs[i] >= 2 ** 28) return false;
  return true;
}
