/** BM25 postings, with term positions from schema 5: coding, decoding in place and structure checks. The format: postings.ts. */
import { ByteWriter, readVarint } from './postings.ts';
import type { Bm25Block } from './types.ts';

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
