/**
 * BM25 postings, with term positions from schema 5 and front-coded terms from schema 6: coding, decoding in place
 * and structure checks, for both block layouts (Bm25ArrayBlock, Bm25DictBlock). The formats: postings.ts,
 * bm25-terms.ts.
 */
import { bm25DictProblem, dictTermIndex, encodeTermDict, forEachDictTerm, forEachDictTermWithPrefix, locateTerm, type TermRun } from './bm25-terms.ts';
import { ByteWriter, readCheckedVarint, readVarint, varintAt } from './postings.ts';
import type { Bm25Block, Bm25DictBlock } from './types.ts';
import { indexInSorted } from '../util/sorted.ts';

/** The largest tf a posting stores (search keeps tfs as uint16); a term counted more often keeps all its positions. */
export const MAX_STORED_TF = 0xffff;

/** A term's positions in one document: one as a number, several ascending. */
export type TermPositions = number | ArrayLike<number>;

/** How many positions. */
export const positionCount = (p: TermPositions): number => (typeof p === 'number' ? 1 : p.length);

/**
 * Encodes BM25 lists from parallel arrays (docs ascending inside each term, terms strictly ascending) as a
 * schema 6 block. With `positions` (per entry, the term's positions in the document, ascending), each term's
 * run starts with varint(df) unless df is 1 (the dictionary says so), then its postings as without, then per
 * posting its positions: varint(first), varint(gap to the next)… — as many as the posting's tf, except that a
 * tf at MAX_STORED_TF is followed by the true count, varint(count).
 */
export function encodeBm25(
  terms: string[],
  entryOffsets: ArrayLike<number>,
  docs: ArrayLike<number>,
  tfs: ArrayLike<number>,
  lengths: Uint32Array,
  positions?: ArrayLike<TermPositions>,
): Bm25DictBlock {
  const w = new ByteWriter(docs.length * (positions ? 4 : 2) + 16);
  const runLengths = new Uint32Array(terms.length);
  const df1 = positions ? new Uint8Array(terms.length) : null;
  for (let t = 0; t < terms.length; t++) {
    const start = w.length;
    const df = entryOffsets[t + 1] - entryOffsets[t];
    if (df1 && df === 1) df1[t] = 1;
    else if (positions) w.varint(df);
    let prev = -1;
    for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
      const tf = tfs[e];
      const gap = docs[e] - prev - 1;
      w.varint(gap * 2 + (tf === 1 ? 1 : 0));
      if (tf !== 1) w.varint(tf);
      prev = docs[e];
    }
    if (positions)
      for (let e = entryOffsets[t]; e < entryOffsets[t + 1]; e++) {
        const p = positions[e];
        const tf = tfs[e];
        if (typeof p === 'number' && tf === 1) {
          w.varint(p); // one position (most entries): no array for it
          continue;
        }
        const pos = typeof p === 'number' ? [p] : p;
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
    runLengths[t] = w.length - start;
  }
  const { dict, dictIndex } = encodeTermDict(terms, runLengths, df1);
  const block: Bm25DictBlock = { dict, dictIndex, termCount: terms.length, postings: w.bytes(), lengths };
  if (positions) block.positions = true;
  return block;
}

// ---------------------------------------------------------------------------- terms, either layout

/** How many terms the block holds. */
export const bm25TermCount = (b: Bm25Block): number => (b.dict ? b.termCount : b.terms.length);

/** Index of `term` in the block's (sorted) terms, or −1. */
export function bm25TermIndex(b: Bm25Block, term: string): number {
  return b.dict ? dictTermIndex(b, term) : indexInSorted(b.terms, term);
}

/** Calls fn(term, t) for every term of the block, ascending. */
export function forEachBm25Term(b: Bm25Block, fn: (term: string, t: number) => void): void {
  if (b.dict) forEachDictTerm(b, fn);
  else b.terms.forEach(fn);
}

/** Calls fn(term, t) for each term of the block that starts with `prefix`, ascending. */
export function forEachBm25TermWithPrefix(b: Bm25Block, prefix: string, fn: (term: string, t: number) => void): void {
  if (b.dict) return forEachDictTermWithPrefix(b, prefix, fn);
  const { terms } = b;
  let lo = 0;
  let hi = terms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (terms[mid] < prefix) lo = mid + 1;
    else hi = mid;
  }
  for (let t = lo; t < terms.length && terms[t].startsWith(prefix); t++) fn(terms[t], t);
}

/**
 * The block's bytes: its arrays, and its term strings as UTF-16 (2 bytes a code unit: what a schema ≤ 5 block's
 * strings cost in memory, and how the bench has always counted them); a schema 6 block's terms are its dictionary.
 */
export function bm25BlockBytes(b: Bm25Block): number {
  let n = b.postings.byteLength + b.lengths.byteLength;
  if (b.dict) return n + b.dict.byteLength + b.dictIndex.byteLength;
  for (const t of b.terms) n += t.length * 2;
  return n + b.offsets.byteLength;
}

const arrayRun: TermRun = { start: 0, end: 0, df1: false };

/** Term index t's byte run (a view valid until the next call). */
export function runOf(b: Bm25Block, t: number): TermRun {
  if (b.dict) return locateTerm(b, t);
  arrayRun.start = b.offsets[t];
  arrayRun.end = b.offsets[t + 1];
  return arrayRun;
}

/**
 * Decodes term index t's postings into `docs`/`tfs` from position `n`; returns the new count. The arrays
 * must have room for bm25ListBound(b, t) more. Leaves in `at.pos`, when given, where the list's positions start.
 */
export function decodeBm25Into(b: Bm25Block, t: number, docs: Uint32Array, tfs: Uint32Array, n: number, at = { pos: 0 }): number {
  const { postings } = b;
  const run = runOf(b, t);
  at.pos = run.start;
  const end = run.end;
  if (b.positions) {
    const df = run.df1 ? 1 : readVarint(postings, at, end);
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
  const run = runOf(b, t);
  if (!b.positions) return run.end - run.start;
  return run.df1 ? 1 : readVarint(b.postings, { pos: run.start }, run.end);
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
  const end = runOf(b, t).end;
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

/** Bytes the block spends on positions (each term's stored df and its postings' positions): what phrases cost. */
export function bm25PositionBytes(b: Bm25Block): number {
  if (!b.positions) return 0;
  let bytes = 0;
  let docs = new Uint32Array(0);
  let tfs = new Uint32Array(0);
  const at = { pos: 0 };
  for (let t = 0; t < bm25TermCount(b); t++) {
    const df = bm25ListBound(b, t);
    if (docs.length < df) [docs, tfs] = [new Uint32Array(df * 2), new Uint32Array(df * 2)];
    const { end, df1 } = runOf(b, t);
    decodeBm25Into(b, t, docs, tfs, 0, at);
    // The df varint (where stored) and everything after the entries.
    bytes += end - at.pos + (df1 ? 0 : varintLength(df));
  }
  return bytes;
}

function varintLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
}

/**
 * Why the block's byte runs do not decode into postings over `docs` documents, or null. An array block's offsets
 * and terms are checked by the caller (segment-check.ts); a dictionary block's dictionary here, along the runs.
 */
export function bm25PostingsProblem(b: Bm25Block, docs: number): string | null {
  if (b.positions !== undefined && b.positions !== true) return 'BM25 block: positions must be true or absent';
  const run = bm25RunCheck(b, docs);
  if (b.dict) return bm25DictProblem(b, run);
  for (let t = 0; t < b.terms.length; t++) {
    const why = run(t, b.offsets[t], b.offsets[t + 1], false);
    if (why) return why;
  }
  return null;
}

/**
 * The check of one term's byte run (postings over `docs` documents, and their positions where the block holds
 * them): why run(t, start, end, df1) does not decode, or null. Its scratch grows with the longest list seen.
 */
export function bm25RunCheck(b: Bm25Block, docs: number): (t: number, start: number, end: number, df1: boolean) => string | null {
  const { postings: bytes } = b;
  const withPositions = b.positions === true;
  let tfs = new Uint32Array(withPositions ? 64 : 0);
  let list = new Uint32Array(withPositions ? 64 : 0);
  // Every byte of every list: varints inline, as in sparseGroupProblem.
  const name = (t: number) => (b.dict ? `term ${t}` : JSON.stringify(b.terms[t]));
  const bad = (t: number) => `BM25 postings of ${name(t)} are malformed or cut short`;
  return (t: number, start: number, end: number, df1: boolean): string | null => {
    let p = start;
    let df = Number.POSITIVE_INFINITY;
    if (withPositions) {
      df = df1 ? 1 : readCheckedVarint(bytes, p);
      if (df < 0) return bad(t);
      if (!df1) p = varintAt.end;
      if (df > list.length) [list, tfs] = [new Uint32Array(df), new Uint32Array(df)];
    }
    let doc = -1;
    let n = 0;
    while (n < df && p < end) {
      let c = bytes[p++];
      let v = c & 0x7f;
      for (let shift = 7; c >= 0x80; shift += 7) {
        if (shift > 21) return bad(t);
        c = bytes[p++];
        v |= (c & 0x7f) << shift;
      }
      let tf = 1;
      if (!(v & 1)) {
        c = bytes[p++];
        tf = c & 0x7f;
        for (let shift = 7; c >= 0x80; shift += 7) {
          if (shift > 21) return bad(t);
          c = bytes[p++];
          tf |= (c & 0x7f) << shift;
        }
      }
      if (p > end) return bad(t);
      doc += (v >>> 1) + 1;
      if (doc >= docs) return `BM25 posting of ${name(t)} names document ${doc} of ${docs}`;
      if (withPositions) {
        if (tf < 1 || tf > MAX_STORED_TF) return bad(t);
        list[n] = doc;
        tfs[n] = tf;
      }
      n++;
    }
    if (!withPositions) return p === end ? null : bad(t);
    if (n !== df || df === 0) return `BM25 postings of ${name(t)}: ${n} postings for df ${df}`;
    for (let e = 0; e < n; e++) {
      let count = tfs[e];
      if (count === MAX_STORED_TF) {
        count = readCheckedVarint(bytes, p);
        if (count < MAX_STORED_TF) return bad(t);
        p = varintAt.end;
      }
      // A position is below the document's length in terms: positions group tokens, so there are at most as many.
      const length = b.lengths[list[e]];
      let pos = 0;
      for (let i = 0; i < count; i++) {
        const d = readCheckedVarint(bytes, p);
        if (d < 0) return bad(t);
        p = varintAt.end;
        pos += d;
      }
      if (p > end) return bad(t);
      if (pos >= length) return `BM25 positions of ${name(t)} run past document ${list[e]}'s ${length} terms`;
    }
    return p === end ? null : bad(t);
  };
}
