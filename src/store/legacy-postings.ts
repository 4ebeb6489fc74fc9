/** Schema ≤ 3 postings (plain parallel arrays) and their exact conversion to the compact coding. */
import { encodeBm25 } from './bm25-postings.ts';
import { encodeSparse } from './sparse-postings.ts';
import type { Bm25Block, SegmentRecord, SparseBlock } from './types.ts';

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
