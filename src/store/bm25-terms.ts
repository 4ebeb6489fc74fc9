/**
 * The BM25 term dictionary of schema 6: a segment's sorted term strings front-coded in one byte array, each
 * with the length of its postings run, read in place (nothing is decoded on open; a lookup decodes at most one
 * group of terms, and only the strings a prefix query returns become strings).
 *
 *   per term:  varint(bytes shared with the previous term; 0 for a group's first), varint(suffix length),
 *              the suffix bytes, varint(run) — run = the term's byte run in `postings`, as length · 2 + (df = 1)
 *              where the block holds positions (a df of 1 is then not stored in the run), else its length
 *   dictIndex: per group of BM25_TERM_GROUP terms, [its first entry's byte offset, its run's byte offset]
 *
 * Term bytes are CESU-8 (each UTF-16 code unit coded as UTF-8 codes a code point), so comparing bytes orders
 * terms exactly as JavaScript's `<` orders the strings, lone surrogates included: the order every schema kept.
 */
import { ensureBlockChecked, ensureGroupChecked } from './posting-checks.ts';
import { readCheckedVarint, readVarint, varintAt } from './postings.ts';
import type { Bm25DictBlock } from './types.ts';

/** Terms per group: a lookup binary-searches the groups' first terms, then walks at most this many entries. */
export const BM25_TERM_GROUP = 16;

// ---------------------------------------------------------------------------- term bytes

let keyScratch = new Uint8Array(256);

/** `s` as CESU-8 bytes in `out` (room for 3 bytes a code unit); returns the length. */
export function termBytesInto(s: string, out: Uint8Array, at = 0): number {
  let p = at;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) out[p++] = c;
    else if (c < 0x800) {
      out[p++] = 0xc0 | (c >>> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      out[p++] = 0xe0 | (c >>> 12);
      out[p++] = 0x80 | ((c >>> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p - at;
}

/** The term coded in bytes start..end (well-formed CESU-8, as bm25DictProblem checks). */
export function termString(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let p = start; p < end; ) {
    const b = bytes[p];
    if (b < 0x80) {
      s += String.fromCharCode(b);
      p++;
    } else if (b < 0xe0) {
      s += String.fromCharCode(((b & 0x1f) << 6) | (bytes[p + 1] & 0x3f));
      p += 2;
    } else {
      s += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[p + 1] & 0x3f) << 6) | (bytes[p + 2] & 0x3f));
      p += 3;
    }
  }
  return s;
}

/** The key's bytes in a shared scratch buffer (valid until the next call); returns the length. */
function key(term: string): number {
  if (keyScratch.length < term.length * 3) keyScratch = new Uint8Array(term.length * 3 * 2);
  return termBytesInto(term, keyScratch);
}

/** Compares bytes a[as..ae) with b[bs..be): < 0, 0 or > 0. */
function compareBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = a[as + i] - b[bs + i];
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

// ---------------------------------------------------------------------------- coding

/**
 * The dictionary of `terms` (strictly ascending) whose runs have byte lengths `runLengths`, `df1[t]` set where
 * a block with positions leaves term t's df out of its run.
 */
export function encodeTermDict(
  terms: readonly string[],
  runLengths: ArrayLike<number>,
  df1: ArrayLike<number> | null,
): { dict: Uint8Array; dictIndex: Uint32Array } {
  const groups = Math.ceil(terms.length / BM25_TERM_GROUP);
  const dictIndex = new Uint32Array(groups * 2);
  let cap = 64;
  for (const t of terms) cap += t.length * 3 + 12;
  const out = new Uint8Array(cap);
  let prev = new Uint8Array(64);
  let cur = new Uint8Array(64);
  let prevLen = 0;
  let p = 0;
  let run = 0;
  const varint = (v: number) => {
    if (!(v >= 0 && v < 2 ** 28) || !Number.isInteger(v)) throw new RangeError(`postings: ${v} cannot be stored (0 ≤ value < 2^28)`);
    while (v >= 0x80) {
      out[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[p++] = v;
  };
  for (let t = 0; t < terms.length; t++) {
    if (cur.length < terms[t].length * 3) cur = new Uint8Array(terms[t].length * 6);
    const len = termBytesInto(terms[t], cur);
    let shared = 0;
    if (t % BM25_TERM_GROUP === 0) {
      dictIndex[(t / BM25_TERM_GROUP) * 2] = p;
      dictIndex[(t / BM25_TERM_GROUP) * 2 + 1] = run;
    } else {
      if (compareBytes(prev, 0, prevLen, cur, 0, len) >= 0) throw new RangeError(`postings: terms are not strictly ascending at ${JSON.stringify(terms[t])}`);
      const most = Math.min(prevLen, len);
      while (shared < most && prev[shared] === cur[shared]) shared++;
      while (shared > 0 && (cur[shared] & 0xc0) === 0x80) shared--; // a suffix starts at a whole code unit
    }
    varint(shared);
    varint(len - shared);
    out.set(cur.subarray(shared, len), p);
    p += len - shared;
    varint(df1 ? runLengths[t] * 2 + (df1[t] ? 1 : 0) : runLengths[t]);
    run += runLengths[t];
    [prev, cur] = [cur, prev];
    prevLen = len;
  }
  return { dict: out.slice(0, p), dictIndex };
}

// ---------------------------------------------------------------------------- runs

/** Where one term's run is (bm25-postings.ts reads it): its bytes start..end and whether its df is 1 unstored. */
export interface TermRun {
  start: number;
  end: number;
  df1: boolean;
}

// The last term located, so walking terms in order (merges, gathers after a lookup) costs one entry each.
const memo = { block: null as Bm25DictBlock | null, t: -1, next: 0, start: 0, end: 0, df1: false };

/** Term index t's run (a view valid until the next call). */
export function locateTerm(b: Bm25DictBlock, t: number): TermRun {
  if (memo.block === b && memo.t === t) return memo;
  ensureGroupChecked(b, Math.floor(t / BM25_TERM_GROUP));
  const { dict } = b;
  let i: number;
  let p: number;
  let runEnd: number;
  if (memo.block === b && t > memo.t && t - memo.t <= BM25_TERM_GROUP) {
    i = memo.t + 1;
    p = memo.next;
    runEnd = memo.end;
  } else {
    const g = Math.floor(t / BM25_TERM_GROUP);
    i = g * BM25_TERM_GROUP;
    p = b.dictIndex[2 * g];
    runEnd = b.dictIndex[2 * g + 1];
  }
  const positions = b.positions === true;
  let start = runEnd;
  let df1 = false;
  // The group passed bm25DictGroupProblem (now, or on open): its varints are read inline, unchecked.
  for (; i <= t; i++) {
    while (dict[p++] >= 0x80);
    let suffix = dict[p++];
    if (suffix >= 0x80) [suffix, p] = [readCheckedVarint(dict, p - 1), varintAt.end];
    p += suffix;
    let v = dict[p++];
    if (v >= 0x80) [v, p] = [readCheckedVarint(dict, p - 1), varintAt.end];
    start = runEnd;
    runEnd += positions ? v >>> 1 : v;
    df1 = positions && (v & 1) === 1;
  }
  memo.block = b;
  memo.t = t;
  memo.next = p;
  memo.start = start;
  memo.end = runEnd;
  memo.df1 = df1;
  return memo;
}

// ---------------------------------------------------------------------------- lookups

/** A cursor over one group's entries, the current term's bytes in `term[0..len)`. */
class Walk {
  term = new Uint8Array(64);
  len = 0;
  t = 0;
  pos = 0;
  run = 0;
  constructor(private readonly b: Bm25DictBlock) {}

  /** Positions the cursor before group g's first entry. */
  group(g: number): void {
    ensureGroupChecked(this.b, g);
    this.t = g * BM25_TERM_GROUP - 1;
    this.pos = this.b.dictIndex[2 * g];
    this.run = this.b.dictIndex[2 * g + 1];
    this.len = 0;
  }

  /** Reads the next entry (false past the last term); its run then ends at `run`. */
  next(): boolean {
    const { dict } = this.b;
    if (this.t + 1 >= this.b.termCount) return false;
    if ((this.t + 1) % BM25_TERM_GROUP === 0) ensureGroupChecked(this.b, (this.t + 1) / BM25_TERM_GROUP);
    let p = this.pos;
    let shared = dict[p++];
    if (shared >= 0x80) [shared, p] = [readCheckedVarint(dict, p - 1), varintAt.end];
    let suffix = dict[p++];
    if (suffix >= 0x80) [suffix, p] = [readCheckedVarint(dict, p - 1), varintAt.end];
    const len = shared + suffix;
    if (this.term.length < len) {
      const grown = new Uint8Array(len * 2);
      grown.set(this.term.subarray(0, shared));
      this.term = grown;
    }
    const term = this.term;
    for (let i = shared; i < len; i++) term[i] = dict[p++];
    this.len = len;
    let v = dict[p++];
    if (v >= 0x80) [v, p] = [readCheckedVarint(dict, p - 1), varintAt.end];
    this.run += this.b.positions ? v >>> 1 : v;
    this.pos = p;
    this.t++;
    return true;
  }

  string(): string {
    return termString(this.term, 0, this.len);
  }
}

/** The group whose first term is the last one ≤ key[0..len) (strictly < where `strict`), or 0. */
function groupOf(b: Bm25DictBlock, len: number, strict: boolean): number {
  const { dict, dictIndex } = b;
  let lo = 0;
  let hi = dictIndex.length / 2 - 1;
  const at = { pos: 0 };
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    at.pos = dictIndex[2 * mid] + 1; // a group's first entry shares nothing: its first byte is 0
    const n = readVarint(dict, at, dict.length);
    const c = compareBytes(dict, at.pos, at.pos + n, keyScratch, 0, len);
    if (c < 0 || (c === 0 && !strict)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of `term` in the block's terms, or −1. */
export function dictTermIndex(b: Bm25DictBlock, term: string): number {
  if (b.termCount === 0) return -1;
  const len = key(term);
  const w = new Walk(b);
  w.group(groupOf(b, len, false));
  for (let i = 0; i < BM25_TERM_GROUP && w.next(); i++) {
    const c = compareBytes(w.term, 0, w.len, keyScratch, 0, len);
    if (c === 0) return w.t;
    if (c > 0) return -1;
  }
  return -1;
}

/** Calls fn(term, t) for each term starting with `prefix`, ascending. */
export function forEachDictTermWithPrefix(b: Bm25DictBlock, prefix: string, fn: (term: string, t: number) => void): void {
  if (b.termCount === 0) return;
  let len = key(prefix);
  const pre = keyScratch.slice(0, len); // fn may look terms up (and so reuse the scratch)
  const w = new Walk(b);
  w.group(groupOf(b, len, true));
  len = pre.length;
  while (w.next()) {
    const c = compareBytes(w.term, 0, Math.min(w.len, len), pre, 0, len);
    if (c < 0) continue;
    if (c > 0) return;
    fn(w.string(), w.t);
  }
}

/** Calls fn(term, t) for every term, ascending. */
export function forEachDictTerm(b: Bm25DictBlock, fn: (term: string, t: number) => void): void {
  if (b.termCount === 0) return;
  ensureBlockChecked(b);
  const w = new Walk(b);
  w.group(0);
  while (w.next()) fn(w.string(), w.t);
}

// ---------------------------------------------------------------------------- checks

/**
 * Why the dictionary's directory is inconsistent, or null: its term count and group index, each group's first
 * entry (well-formed, in bounds) and the groups' first terms strictly ascending, so a lookup finds the right group.
 * What an open checks at once; bm25DictGroupProblem checks each group's entries and runs.
 */
export function bm25DictDirectoryProblem(b: Bm25DictBlock): string | null {
  const { dict, dictIndex, termCount, postings } = b;
  if (!Number.isSafeInteger(termCount) || termCount < 0) return `BM25 dictionary says ${termCount} terms`;
  const groups = Math.ceil(termCount / BM25_TERM_GROUP);
  if (dictIndex.length !== groups * 2) return `BM25 dictionary index: ${dictIndex.length} entries for ${groups} groups`;
  if (groups === 0) {
    if (dict.length) return `BM25 dictionary holds ${dict.length} bytes past its 0 terms`;
    return postings.length ? `BM25 runs cover 0 of ${postings.length} postings bytes` : null;
  }
  let prev = -1;
  let prevLen = 0;
  for (let g = 0; g < groups; g++) {
    const p = dictIndex[2 * g];
    const run = dictIndex[2 * g + 1];
    if ((g === 0 ? p !== 0 || run !== 0 : !(p > dictIndex[2 * g - 2]) || run < dictIndex[2 * g - 1]) || run > postings.length || p >= dict.length)
      return `BM25 dictionary group ${g} does not start where its index says`;
    // A group's first entry: varint(0), varint(suffix length), the term's bytes.
    if (dict[p] !== 0) return `BM25 dictionary group ${g} does not start where its index says`;
    const len = readCheckedVarint(dict, p + 1);
    const at = varintAt.end;
    if (len < 0 || at + len > dict.length) return bad(g * BM25_TERM_GROUP);
    if (!wellFormed(dict, at, at + len)) return `BM25 term ${g * BM25_TERM_GROUP} is not well-formed text`;
    if (g > 0 && compareBytes(dict, prev, prev + prevLen, dict, at, at + len) >= 0) return 'BM25 terms are not strictly ascending';
    prev = at;
    prevLen = len;
  }
  return null;
}

const bad = (t: number) => `BM25 dictionary entry ${t} is malformed or cut short`;

/** bm25DictGroupProblem's term bytes (grown as needed; it calls nothing that uses them). */
let groupTerm = new Uint8Array(64);

/**
 * Why group g's entries do not describe well-formed, strictly ascending terms (below the next group's first) whose
 * runs tile the group's part of `postings`, or null. Calls run(t, start, end, df1) for each term's run, so the
 * postings check walks along. The directory passed bm25DictDirectoryProblem.
 */
export function bm25DictGroupProblem(b: Bm25DictBlock, g: number, run: (t: number, start: number, end: number, df1: boolean) => string | null): string | null {
  const { dict, dictIndex, termCount, postings } = b;
  const groups = dictIndex.length / 2;
  const positions = b.positions === true;
  const last = g + 1 === groups;
  const end = last ? dict.length : dictIndex[2 * g + 2];
  const runsEnd = last ? postings.length : dictIndex[2 * g + 3];
  // The previous term's bytes; each term overwrites them from where it stops sharing them.
  let term = groupTerm;
  let prevLen = 0;
  let p = dictIndex[2 * g];
  let runAt = dictIndex[2 * g + 1];
  const t1 = Math.min(termCount, (g + 1) * BM25_TERM_GROUP);
  // One-byte varints (nearly all) read inline.
  for (let t = g * BM25_TERM_GROUP; t < t1; t++) {
    const first = t % BM25_TERM_GROUP === 0;
    if (p + 2 > end) return bad(t);
    let shared = dict[p];
    if (shared < 0x80) p++;
    else if ((shared = readCheckedVarint(dict, p, end)) < 0) return bad(t);
    else p = varintAt.end;
    let suffix = dict[p];
    if (suffix < 0x80) p++;
    else if ((suffix = readCheckedVarint(dict, p, end)) < 0) return bad(t);
    else p = varintAt.end;
    if (p + suffix > end || (first ? shared !== 0 : shared > prevLen)) return bad(t);
    // Each term is whole code units: the suffix starts one and holds whole ones, shared bytes end one.
    if (shared < prevLen && (term[shared] & 0xc0) === 0x80) return bad(t);
    if (!wellFormed(dict, p, p + suffix)) return `BM25 term ${t} is not well-formed text`;
    if (!first) {
      // Strictly after the previous term: they agree on `shared` bytes, so compare from there.
      const m = Math.min(suffix, prevLen - shared);
      let i = 0;
      while (i < m && dict[p + i] === term[shared + i]) i++;
      if (i < m ? dict[p + i] < term[shared + i] : suffix <= prevLen - shared) return 'BM25 terms are not strictly ascending';
    }
    const len = shared + suffix;
    if (term.length < len) {
      const grown = new Uint8Array(len * 2);
      grown.set(term.subarray(0, shared));
      term = groupTerm = grown;
    }
    for (let i = 0; i < suffix; i++) term[shared + i] = dict[p + i];
    p += suffix;
    prevLen = len;
    if (p >= end) return bad(t);
    let v = dict[p];
    if (v < 0x80) p++;
    else if ((v = readCheckedVarint(dict, p, end)) < 0) return bad(t);
    else p = varintAt.end;
    const runEnd = runAt + (positions ? v >>> 1 : v);
    if (runEnd > runsEnd) return `BM25 run of term ${t} runs past the postings`;
    const why = run(t, runAt, runEnd, positions && (v & 1) === 1);
    if (why) return why;
    runAt = runEnd;
  }
  if (!last) {
    // The next group's first term (the directory checked it is whole) sorts after this group's last.
    const at = dictIndex[2 * g + 2] + 1;
    const len = readCheckedVarint(dict, at);
    if (compareBytes(term, 0, prevLen, dict, varintAt.end, varintAt.end + len) >= 0) return 'BM25 terms are not strictly ascending';
    if (p !== end) return `BM25 dictionary group ${g + 1} does not start where its index says`;
    if (runAt !== runsEnd) return `BM25 dictionary group ${g + 1} does not start where its index says`;
    return null;
  }
  if (p !== end) return `BM25 dictionary holds ${end - p} bytes past its ${termCount} terms`;
  if (runAt !== postings.length) return `BM25 runs cover ${runAt} of ${postings.length} postings bytes`;
  return null;
}

/**
 * Why the dictionary does not describe `termCount` well-formed, strictly ascending terms whose runs tile
 * `postings`, or null. Calls run(t, start, end, df1) for each term's run, so the postings check walks along.
 */
export function bm25DictProblem(b: Bm25DictBlock, run: (t: number, start: number, end: number, df1: boolean) => string | null): string | null {
  const why = bm25DictDirectoryProblem(b);
  if (why) return why;
  for (let g = 0; g < b.dictIndex.length / 2; g++) {
    const problem = bm25DictGroupProblem(b, g, run);
    if (problem) return problem;
  }
  return null;
}

/** Bytes start..end are whole, minimally coded CESU-8 code units. */
function wellFormed(bytes: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p < end; ) {
    const b = bytes[p];
    if (b < 0x80) p++;
    else if (b >= 0xc2 && b < 0xe0) {
      if (p + 1 >= end || (bytes[p + 1] & 0xc0) !== 0x80) return false;
      p += 2;
    } else if (b >= 0xe0 && b < 0xf0) {
      if (p + 2 >= end || (bytes[p + 1] & 0xc0) !== 0x80 || (bytes[p + 2] & 0xc0) !== 0x80 || (b === 0xe0 && bytes[p + 1] < 0xa0)) return false;
      p += 3;
    } else return false;
  }
  return true;
}
