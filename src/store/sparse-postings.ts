/** Sparse (learned lexical weight) postings: coding, lookup and structure checks. The format: postings.ts. */
import { ensureBlockChecked, ensureGroupChecked } from './posting-checks.ts';
import { ByteWriter, readVarint } from './postings.ts';
import type { SparseBlock } from './types.ts';

/**
 * Tokens per group of the sparse dictionary. A lookup binary-searches the groups' first tokens, then walks at
 * most this many token headers; the ids and list lengths in between cost ~2 bytes a token instead of 8.
 */
export const SPARSE_GROUP = 16;

/**
 * Encodes sparse lists from parallel arrays (entries of tokens[t] at entryOffsets[t]..entryOffsets[t+1]) as
 * schema 6 does. Per token: varint(gap · 2 + (one entry ? 1 : 0)), the gap being token − the previous token of
 * its group (0 for a group's first); unless it has one entry, varint(byte length of its entries); then the entries.
 * (Schema 4 and 5 blocks, without `singles`, store varint(gap) and always the byte length.)
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
    const single = entryOffsets[t + 1] - entryOffsets[t] === 1;
    w.varint((t % SPARSE_GROUP === 0 ? 0 : tokens[t] - tokens[t - 1]) * 2 + (single ? 1 : 0));
    if (!single) w.varint(entries.length);
    w.append(entries);
  }
  groupOffsets[groups] = w.length;
  return { groupTokens, groupOffsets, postings: w.bytes(), tokens: tokens.length, entries: rows.length, scale, singles: true };
}

/** Where readHeader's list starts, and its byte length. */
const head = { gap: 0, start: 0, len: 0 };

/** Reads the token header at `pos` (head.gap, head.start, head.len). */
function readHeader(s: SparseBlock, postings: Uint8Array, at: { pos: number }, end: number): void {
  const h = readVarint(postings, at, end);
  if (!s.singles) {
    head.gap = h;
    head.len = readVarint(postings, at, end);
    head.start = at.pos;
    return;
  }
  head.gap = h >>> 1;
  if (h & 1) {
    // One entry: its row varint, then its weight byte.
    let p = at.pos;
    while (postings[p++] >= 0x80);
    head.start = at.pos;
    head.len = p + 1 - at.pos;
  } else {
    head.len = readVarint(postings, at, end);
    head.start = at.pos;
  }
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
  ensureGroupChecked(s, lo);
  const end = groupOffsets[lo + 1];
  const cur = { pos: groupOffsets[lo] };
  let tok = groupTokens[lo];
  while (cur.pos < end) {
    readHeader(s, postings, cur, end);
    tok += head.gap;
    if (tok === token) {
      at.pos = head.start;
      at.end = head.start + head.len;
      return true;
    }
    if (tok > token) return false;
    cur.pos = head.start + head.len;
  }
  return false;
}

/** Calls fn(token, start, end) for each token's entry byte range, tokens ascending. */
export function forEachSparseList(s: SparseBlock, fn: (token: number, start: number, end: number) => void): void {
  ensureBlockChecked(s);
  const { groupTokens, groupOffsets, postings } = s;
  const cur = { pos: 0 };
  for (let g = 0; g < groupTokens.length; g++) {
    const end = groupOffsets[g + 1];
    cur.pos = groupOffsets[g];
    let tok = groupTokens[g];
    while (cur.pos < end) {
      readHeader(s, postings, cur, end);
      tok += head.gap;
      const { start, len } = head;
      fn(tok, start, start + len);
      cur.pos = start + len;
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

/**
 * Why the block's group directory is inconsistent (its offsets tile the postings, one non-empty group each; its
 * first tokens ascend), or null: what an open checks at once (sparseGroupProblem checks each group's lists).
 */
export function sparseDirectoryProblem(s: SparseBlock): string | null {
  const { groupTokens, groupOffsets, postings: bytes } = s;
  const groups = groupTokens.length;
  if (s.singles !== undefined && s.singles !== true) return 'sparse block: singles must be true or absent';
  if (groupOffsets.length !== groups + 1 || groupOffsets[0] !== 0 || groupOffsets[groups] !== bytes.length)
    return `sparse groups: ${groupOffsets.length} offsets for ${groups} groups over ${bytes.length} bytes`;
  for (let g = 0; g < groups; g++) {
    if (!(groupOffsets[g + 1] > groupOffsets[g])) return `sparse group ${g} does not start where the previous one ended, or is empty`;
    if (g > 0 && !(groupTokens[g] > groupTokens[g - 1])) return 'sparse token ids are not strictly ascending';
  }
  return null;
}

/** Tokens and entries the groups checked so far hold (sparseGroupProblem adds to them). */
export interface SparseCounts {
  tokens: number;
  entries: number;
}

/**
 * Why group g's token lists do not decode (token ids strictly ascending and below the next group's first, rows below
 * `rows`), or null; adds its tokens and entries to `counts`. The directory passed sparseDirectoryProblem.
 */
export function sparseGroupProblem(s: SparseBlock, g: number, rows: number, counts: SparseCounts): string | null {
  const { groupTokens, groupOffsets, postings: bytes } = s;
  const singles = s.singles === true;
  // Varints decoded inline (a byte past `end` reads as undefined → 0, and the position checks below catch it).
  let p = groupOffsets[g];
  const end = groupOffsets[g + 1];
  const next = g + 1 < groupTokens.length ? groupTokens[g + 1] : Number.POSITIVE_INFINITY;
  let tokens = 0;
  let entries = 0;
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
    let single = false;
    if (singles) {
      single = (gap & 1) === 1;
      gap >>>= 1;
    }
    let len = 0;
    if (single) {
      // One entry: a row varint and a weight byte.
      let q = p;
      while (bytes[q++] >= 0x80 && q - p < 4);
      len = q + 1 - p;
    } else {
      b = bytes[p++];
      len = b & 0x7f;
      for (let shift = 7; b >= 0x80; shift += 7) {
        if (shift > 21) return `sparse group ${g} is malformed`;
        b = bytes[p++];
        len |= (b & 0x7f) << shift;
      }
    }
    const listEnd = p + len;
    if (p > end || listEnd > end) return `sparse group ${g} is cut short or malformed`;
    if (first ? gap !== 0 : gap === 0) return `sparse token ids of group ${g} are not strictly ascending`;
    tok += gap;
    first = false;
    if (tok >= next) return 'sparse token ids are not strictly ascending';
    tokens++;
    let row = 0;
    const before = entries;
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
      if (row >= rows) return `sparse entry ${counts.entries + entries} names row ${row} of ${rows}`;
      p++;
      entries++;
    }
    if (single && entries !== before + 1) return `sparse postings of token ${tok} are cut short or malformed`;
  }
  counts.tokens += tokens;
  counts.entries += entries;
  return null;
}

/** Why the block's totals differ from what its groups hold (`counts`, every group checked), or null. */
export function sparseCountsProblem(s: SparseBlock, counts: SparseCounts): string | null {
  if (counts.tokens !== s.tokens) return `sparse block says ${s.tokens} tokens but holds ${counts.tokens}`;
  return counts.entries === s.entries ? null : `sparse block says ${s.entries} entries but holds ${counts.entries}`;
}

/** Why the block does not decode into its `tokens` ascending token lists and `entries` entries over `rows` rows, or null. */
export function sparsePostingsProblem(s: SparseBlock, rows: number): string | null {
  const bad = sparseDirectoryProblem(s);
  if (bad) return bad;
  const counts = { tokens: 0, entries: 0 };
  for (let g = 0; g < s.groupTokens.length; g++) {
    const why = sparseGroupProblem(s, g, rows, counts);
    if (why) return why;
  }
  return sparseCountsProblem(s, counts);
}
